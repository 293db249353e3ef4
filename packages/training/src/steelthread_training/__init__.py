"""steelthread_training: training set -> validated, gated, ONNX-exported, registered and promoted model.

Importing the package is cheap (no MLflow, LightGBM or Feast until a stage needs them). Entry points:

- `pipeline.run_training(settings, ...)`: the whole run; `pipeline.generate_data` for the synthetic data.
- `candidate.fit_candidate(frame, config, seed)`: stages 2-6 as one pure function of a frame (the active
  use case's `frame.SPEC` and smoke cases by default; `spec=`/`smoke=` for any other frame).
- `tasks.task_kind(task)`: what differs between binary, regression and multiclass (objective, metrics,
  gate, ONNX output, label checks), one `TaskKind` per task.
- stage functions: `dataset.build_training_set`, `validation.validate_frame`, `split.time_split`,
  `models.train_lightgbm` / `train_baseline`, `evaluation.evaluate`, `export.to_onnx` / `parity`,
  `gate.run_gate`, `run_log.log_and_register`.
- `promotion.promote` / `rollback` / `register_challenger`, each a recoverable sequence recorded in the
  `journal`; `promotion.promotion_state` / `repair`; `audit.champion_at`.
- `package`: the published model package format (what serving, batch and monitoring read).
- `settings.TrainingSettings`, `config.load_config` (the use case's `training.yaml`).

Serving never imports this package; it reads the package published under `models_dir`.
"""
