"""The request bodies the routes accept; unknown fields are refused (a typo is a 400, never ignored)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EmbedRequest", "EmbeddingsRequest", "TokenizeRequest"]


class EmbeddingsRequest(BaseModel):
    """OpenAI's embeddings request, plus this server's extensions."""

    model_config = ConfigDict(extra="forbid")
    input: str | list[str]
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None
    compression_ratio: float | None = None
    input_type: Literal["query", "document"] | None = None
    truncate: bool | None = None
    token_budget: int | None = None  # compress each input to fit this many positions (reads past the window)


class EmbedRequest(BaseModel):
    """TEI's ``/embed``, plus ``compression_ratio``."""

    model_config = ConfigDict(extra="forbid")
    inputs: str | list[str]
    normalize: bool = True
    truncate: bool | None = None
    prompt_name: str | None = None
    compression_ratio: float | None = None
    token_budget: int | None = None


class TokenizeRequest(BaseModel):
    """TEI's ``/tokenize``."""

    model_config = ConfigDict(extra="forbid")
    inputs: str | list[str]
    add_special_tokens: bool = Field(default=True)
    prompt_name: str | None = None
