"""Machine-learning consumers: extracts for EMR, the SageMaker training path and the score return (docs/ml.md)."""
