"""Streamlit helpers shared by the pages: the one part of SmallChat that imports streamlit."""
