"""The evaluation suite behind `rag eval`: datasets, metrics, runner."""
