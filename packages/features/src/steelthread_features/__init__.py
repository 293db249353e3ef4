"""steelthread_features: the credit-risk feature library (Feast repo, data generator, API).

Importing the package is cheap: Feast is imported only when a store is first used.
"""

from steelthread_features.definitions import FEATURE_NAMES, FEATURE_SERVICE, feature_names

__all__ = ["FEATURE_NAMES", "FEATURE_SERVICE", "feature_names"]
