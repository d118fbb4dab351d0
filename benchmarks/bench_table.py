"""The bench's rows: one result against its baseline and target, and the table they print as."""


def make_row(name, value, unit, baseline=None, baseline_name=None, target=None, note=""):
    """One result. `target` is (what, operator, number) with what in {"value", "ratio"}."""
    higher_is_better = unit in ("images/s", "GFLOP/s", "%")  # Seconds, ms and cores: lower is better.
    ratio = None
    if value and baseline:
        ratio = value / baseline if higher_is_better else baseline / value
    met = None
    if target is not None and value is not None:
        what, operator, number = target
        measured = value if what == "value" else ratio
        met = measured is not None and (measured >= number if operator == ">=" else measured <= number)
    return {
        "name": name,
        "value": rounded(value),
        "unit": unit,
        "baseline": rounded(baseline),
        "baseline_name": baseline_name,
        "ratio": None if ratio is None else round(ratio, 2),
        "target": None if target is None else f"{target[0]} {target[1]} {target[2]}",
        "target_met": met,
        "note": note,
    }


def rounded(number):
    """Two decimals, or three significant digits below 1: a watcher's 0.0047 of a core must not read 0."""
    if number is None:
        return None
    return round(number, 2) if abs(number) >= 1 else float(f"{number:.3g}")


def format_number(number):
    if number is None:
        return "-"
    if abs(number) >= 100:
        return f"{number:,.1f}"
    return f"{number:.2f}" if abs(number) >= 1 or number == 0 else f"{number:.3g}"


def format_table(rows):
    header = ("name", "value", "unit", "baseline", "ratio", "target", "met")
    lines = []
    for row in rows:
        met = {True: "yes", False: "NO", None: "-"}[row["target_met"]]
        value = format_number(row["value"]) if row["value"] is not None else row["note"]
        lines.append(
            (
                row["name"],
                value,
                row["unit"],
                format_number(row["baseline"]),
                format_number(row["ratio"]),
                row["target"] or "-",
                met,
            )
        )
    widths = [max(len(str(line[index])) for line in [header, *lines]) for index in range(len(header))]
    text = [
        "  ".join(
            str(cell).ljust(width) if index in (0, 2, 5) else str(cell).rjust(width)
            for index, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in [header, *lines]
    ]
    text.insert(1, "  ".join("-" * width for width in widths))
    # What each baseline was, and where the model came from, under the table rather than in a wider one.
    text += [
        f"  {row['name']}: baseline = {row['baseline_name'] or 'none'}; {row['note']}"
        for row in rows
        if row["value"] is not None
    ]
    return "\n".join(text)


def summary_line(rows):
    judged = [row for row in rows if row["target_met"] is not None]
    skipped = sum(1 for row in rows if row["target"] and row["target_met"] is None)
    met = sum(1 for row in judged if row["target_met"])
    return f"bench: {met} targets met of {len(judged)}" + (f" ({skipped} skipped)" if skipped else "")
