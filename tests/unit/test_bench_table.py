"""The bench's table keeps small figures readable: a watcher's share of a core is thousandths, against 0.01."""

from benchmarks.bench_table import format_table, make_row


def test_a_watchers_thousandths_of_a_core_are_printed_and_judged_as_measured():
    row = make_row("server cores per watcher", 0.0047, "cores", target=("value", "<=", 0.01))
    assert row["value"] == 0.0047 and row["target_met"] is True
    line = format_table([row]).splitlines()[2]
    assert "0.0047" in line and "0.00 " not in line


def test_large_figures_keep_two_decimals_and_thousands_separators():
    rows = [make_row("cpu training", 3177.8349, "images/s", baseline=878.44), make_row("accuracy", 85.0249, "%")]
    assert rows[0]["value"] == 3177.83 and rows[0]["baseline"] == 878.44 and rows[1]["value"] == 85.02
    table = format_table(rows)
    assert "3,177.8" in table and "85.02" in table
