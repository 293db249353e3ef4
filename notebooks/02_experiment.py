# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version,-jupytext.text_representation.format_version
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # An experiment: does LightGBM beat the baseline, and on which slices?
#
# Builds the point-in-time training frame through the feature library (a throwaway local Feast store),
# then uses the training package's own stages (time split, models, evaluation), the same code
# `steelthread-train run` runs, so a result here is a result of the pipeline.

# %%
import os
import tempfile
from pathlib import Path

from steelthread_features import store
from steelthread_features.generator import generate, write
from steelthread_features.settings import FeatureSettings
from steelthread_training.config import load_config
from steelthread_training.dataset import add_derived_slices, entity_frame, label_events
from steelthread_training.evaluation import choose_threshold, evaluate
from steelthread_training.models import labels, train_baseline, train_lightgbm
from steelthread_training.split import time_split

ROWS = int(os.environ.get("STEELTHREAD_NOTEBOOK_ROWS", "3000"))
workdir = Path(tempfile.mkdtemp(prefix="steelthread-experiment-"))
settings = FeatureSettings(tables_dir=workdir / "data", feast_dir=workdir / "feast")
data = generate(ROWS, seed=5)
write(data, settings.tables_dir)
store.apply(settings)
config = load_config()
labelled = label_events(data.applications, data.labels)
frame = store.training_frame(entity_frame(labelled), settings=settings, with_slices=True)
frame = add_derived_slices(frame, config.slices.options)  # the use case's derived slices (income band)
frame.shape

# %%
split = time_split(frame, config.split)
baseline = train_baseline(split.train, config.baseline, seed=0)
lightgbm = train_lightgbm(split.train, split.validation, config.lightgbm, seed=0)
# The decision threshold as the pipeline chooses it: lowest expected cost on the validation slice, with the
# costs of the training configuration (`threshold` in the use case's training.yaml).
threshold = choose_threshold(labels(split.validation), lightgbm.score(split.validation), config.threshold)
y = labels(split.test)
scores = {"baseline": baseline.score(split.test), "lightgbm": lightgbm.score(split.test)}
results = {name: evaluate(name, split.test, y, p, threshold, config.slices) for name, p in scores.items()}
{name: round(r.metrics.roc_auc, 4) for name, r in results.items()}

# %%
results["lightgbm"].slice_frame().head(12)

# %%
assert results["lightgbm"].metrics.roc_auc > 0.6
