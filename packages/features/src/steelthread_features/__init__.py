"""steelthread_features: the feature library of the active use case (Feast repo, data generator, API).

Every name it uses (entity, views, request fields, transform, generator) comes from the use case's
declaration (`STEELTHREAD_USECASE`, read once at import by `steelthread_features.definitions`).
Importing the package is cheap: Feast is imported only when a store is first used.
"""

from steelthread_features.definitions import FEATURE_NAMES, FEATURE_SERVICE, feature_names

__all__ = ["FEATURE_NAMES", "FEATURE_SERVICE", "feature_names"]
