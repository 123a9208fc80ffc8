"""The result keys the reporting helpers write and the stopper reads (trial-side: no imports)."""

CV_SCORES_KEY = "cv_scores"
CV_MEAN_KEY = "cv_mean"
FOLD_KEY = "fold"
FOLD_LOSS_KEY = "fold_loss"
NUM_FOLDS_KEY = "num_folds"
VAL_TRAIN_RATIO_KEY = "val_train_ratio"
CV_MODE_KEY = "cv_mode"  # "min": the fold values are losses; "max": scores
