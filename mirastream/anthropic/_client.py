"""The Anthropic SDK clients mirastream uses: yours, or shared defaults made on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._clients import DefaultClients

if TYPE_CHECKING:
    from anthropic import Anthropic, AsyncAnthropic

CLIENTS: DefaultClients[Anthropic, AsyncAnthropic] = DefaultClients(
    provider="anthropic",
    module="anthropic",
    sync_class="Anthropic",
    async_class="AsyncAnthropic",
    api_key_env="ANTHROPIC_API_KEY",
    base_url_env="ANTHROPIC_BASE_URL",
    home_host="api.anthropic.com",
)
