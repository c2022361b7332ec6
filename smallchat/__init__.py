"""SmallChat core: chat with OpenAI-compatible providers and know exactly what it costs.

This package never imports streamlit and does no I/O at import time.
"""
