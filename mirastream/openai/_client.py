"""The OpenAI SDK clients mirastream uses: yours, or shared defaults made on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._clients import DefaultClients

if TYPE_CHECKING:
    from openai import AsyncOpenAI, OpenAI

CLIENTS: DefaultClients[OpenAI, AsyncOpenAI] = DefaultClients(
    provider="openai",
    module="openai",
    sync_class="OpenAI",
    async_class="AsyncOpenAI",
    api_key_env="OPENAI_API_KEY",
    base_url_env="OPENAI_BASE_URL",
    home_host="api.openai.com",
)
