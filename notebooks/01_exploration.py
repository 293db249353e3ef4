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
# # Exploring the credit-risk data
#
# What the generator produces and how the label relates to the application. Everything is imported from
# the packages (`steelthread_features`, `steelthread_training`), never copied: a finding worth keeping
# becomes a function there, with a test (see `docs/notebook-to-package.md`).

# %%
import os

from steelthread_features.generator import generate
from steelthread_training.config import load_config
from steelthread_training.dataset import label_events
from steelthread_training.frame import LABEL
from steelthread_usecase_credit.slices import income_band
from steelthread_usecase_credit.transforms import application_features

ROWS = int(os.environ.get("STEELTHREAD_NOTEBOOK_ROWS", "3000"))
data = generate(ROWS, seed=11)
labelled = label_events(data.applications, data.labels)
print(
    f"{len(data.applications)} applications, {len(labelled)} with a label, default rate {labelled[LABEL].mean():.3f}"
)

# %% [markdown]
# Default rate by loan purpose and by income band (bands from the training config).

# %%
bands = load_config().slices.options["income_bands"]
labelled["income_band"] = income_band(labelled["declared_income"], bands)
by_purpose = labelled.groupby("purpose")[LABEL].agg(["mean", "size"]).sort_values("mean")
by_band = labelled.groupby("income_band")[LABEL].agg(["mean", "size"])
by_purpose

# %%
by_band

# %% [markdown]
# The request-time features (loan-to-income and friends) come from the one transform that both training
# and serving run, so what is explored here is exactly what the model will see.

# %%
sample = labelled.head(200).merge(
    data.customers[["customer_id", "home_ownership"]].drop_duplicates("customer_id"), on="customer_id"
)
latest_balance = data.credit_history.sort_values("event_timestamp").drop_duplicates(
    "customer_id", keep="last"
)
sample = sample.merge(latest_balance[["customer_id", "total_balance"]], on="customer_id", how="left")
features = application_features(sample)
features[["loan_to_income", "instalment_to_income", "income_missing"]].describe()

# %%
assert 0.0 < labelled[LABEL].mean() < 0.5, "the label should be present but not dominant"
assert features["loan_to_income"].notna().all()
