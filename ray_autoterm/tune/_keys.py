"""The result keys the reporting helpers write and the stopper reads (trial-side: no imports)."""

CV_SCORES_KEY = "cv_scores"
CV_MEAN_KEY = "cv_mean"
FOLD_KEY = "fold"
FOLD_LOSS_KEY = "fold_loss"
NUM_FOLDS_KEY = "num_folds"
VAL_TRAIN_RATIO_KEY = "val_train_ratio"
CV_MODE_KEY = "cv_mode"  # "min": the fold values are losses; "max": scores
HOLDOUT_MEAN_KEY = "holdout_mean"  # one validation set: the mean per-example loss (or score)
HOLDOUT_SE_KEY = "holdout_se"  # its standard error, sd / sqrt(n) (or a bootstrap SE)
HOLDOUT_N_KEY = "holdout_n"  # how many validation examples
