"""hpo: a hyperparameter search engine that knows nothing of Keras."""
__version__ = "0.1.0"
