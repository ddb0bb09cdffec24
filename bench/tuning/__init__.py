"""Equal-budget hyperparameter tuning on the validation split."""
