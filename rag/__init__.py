"""rag-news: answers questions about news articles with verified, verbatim quoted citations."""

__version__ = "0.1.0"
