"""The optimizer and its learning-rate schedule, and compiling a model with them: what the trainer, the
doctor's probe benchmark and the speed benchmarks all train with."""

import math

import keras

from vgg.model.device import use_jit


def learning_rate_schedule(config, steps_per_epoch):
    """The learning rate at each step:
    1. "constant": `learning_rate` throughout (the blog's Adam);
    2. "cosine", warm-up: linear from 1/100 of the peak to `learning_rate` over `warmup_epochs`;
    3. "cosine", then: half a cosine wave from the peak down to zero at the last step."""
    if config.schedule == "constant":
        return config.learning_rate
    if config.minutes:  # A plain value that vgg/training/time_budget.py sets at every step from the clock.
        return budget_learning_rate(config, 0, steps_per_epoch, 0.0)
    total_steps = max(1, config.epochs * steps_per_epoch)
    warmup_steps = min(total_steps - 1, int(config.warmup_epochs * steps_per_epoch))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 100 if warmup_steps else config.learning_rate,
        warmup_target=config.learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
        decay_steps=total_steps - warmup_steps,
    )


def budget_learning_rate(config, step, steps_per_epoch, fraction):
    """The cosine schedule of a run given minutes, at optimizer step `step` with `fraction` of its training time
    used: half a cosine wave from the peak down to zero as the time runs out, and below the same linear warm-up
    over `warmup_epochs`, which counts steps since it is there to keep the first steps small (it gives way to the
    cosine when the budget is too short for it)."""
    if config.schedule == "constant":
        return config.learning_rate
    cosine = config.learning_rate * 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, fraction))))
    warmup_steps = config.warmup_epochs * steps_per_epoch
    if step >= warmup_steps:
        return cosine
    start = config.learning_rate / 100
    return min(cosine, start + (config.learning_rate - start) * step / warmup_steps)


def make_optimizer(config, steps_per_epoch):
    learning_rate = learning_rate_schedule(config, steps_per_epoch)
    weight_decay = config.weight_decay or None
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=config.momentum, nesterov=True, weight_decay=weight_decay)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=config.weight_decay)
    return keras.optimizers.Adam(learning_rate, weight_decay=weight_decay)


def compile_model(model, config, steps_per_epoch, on_gpu):
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
        jit_compile=use_jit(config, on_gpu),
    )
