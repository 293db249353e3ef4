-- Databases of the local stack (compose.yaml): `steelthread` (POSTGRES_DB: the prediction log and feedback,
-- whose tables serving creates), `mlflow` (MLflow's tracking and registry store) and `feast` (the Feast
-- registry, STEELTHREAD_POSTGRES_DSN). Runs once, when the postgres volume is first created.
CREATE DATABASE mlflow OWNER steelthread;
CREATE DATABASE feast OWNER steelthread;
