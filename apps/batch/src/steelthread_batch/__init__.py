"""steelthread_batch: batch scoring and large training sets, embedded by default, Apache Spark at scale.

The public entry points are `scoring.score_batches` (the one scoring function both engines run),
`local_engine.run_local`, `spark_engine.run_spark` and `training_set.build_training_set`; importing the
package imports neither Spark nor Feast.
"""
