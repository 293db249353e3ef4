-- Databases of the local stack (compose.yaml): the app's own (prediction log and feedback, whose tables serving
-- creates; audit), MLflow's backend store and the Feast registry. Runs once, when the postgres volume is first
-- created.
CREATE DATABASE mlflow OWNER steelthread;
CREATE DATABASE feast OWNER steelthread;
