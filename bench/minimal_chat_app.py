"""The baseline for the start-up benchmark: a minimal Streamlit chat app of about 20 lines."""

import os

import streamlit as st
from openai import OpenAI


@st.cache_resource
def client() -> OpenAI:
    return OpenAI(api_key=os.environ.get("AI_API_KEY", "none"), base_url=os.environ.get("AI_BASE_URL"))


st.title("Chat")
messages = st.session_state.setdefault("messages", [])
for message in messages:
    with st.chat_message(message["role"]):
        st.markdown(message["content"])
if prompt := st.chat_input("Message"):
    messages.append({"role": "user", "content": prompt})
    stream = client().chat.completions.create(model=os.environ["AI_MODEL_NAME"], messages=messages, stream=True)
    with st.chat_message("assistant"):
        reply = st.write_stream(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    messages.append({"role": "assistant", "content": reply})
