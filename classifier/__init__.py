"""Classifier: taxonomy, labels, rules, the trained model, the LLM stage and evaluation."""
