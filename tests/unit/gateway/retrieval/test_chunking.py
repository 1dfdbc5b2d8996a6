"""Token chunking: pieces that give back the text exactly, windows of at most N pieces that
overlap by M, OpenAI's limits on the strategy."""

from __future__ import annotations

import pydantic
import pytest

from runestone_gateway import config
from runestone_gateway.retrieval import chunking


def test_pieces_join_back_to_the_text() -> None:
    text = "Hello world, it's 12345 items_here!  \n\n New\tline café 東京 — ok?"
    pieces = chunking.tokens(text)
    assert "".join(pieces) == text
    assert pieces[:4] == ["Hello", " world", ",", " it"]
    assert " 123" in pieces  # digits in groups of three, as GPT tokenizers cut them
    assert "45" in pieces


def test_english_prose_counts_close_to_a_bpe_tokenizer() -> None:
    # cl100k counts 19 tokens for this sentence.
    sentence = "The quick brown fox jumps over the lazy dog, and then it runs away from the farmer."
    assert 17 <= chunking.count(sentence) <= 21


def test_windows_overlap_by_the_strategy() -> None:
    text = "".join(f" word{'x' * (n % 3)}" for n in range(250))
    strategy = config.Chunking(max_chunk_size_tokens=100, chunk_overlap_tokens=40)
    chunks = chunking.chunks(text, strategy)
    pieces = chunking.tokens(text)
    assert len(pieces) == 250
    assert [chunking.count(c) for c in chunks] == [100, 100, 100, 70]
    assert chunks[0] == "".join(pieces[:100])
    assert chunks[1] == "".join(pieces[60:160])
    assert chunks[-1] == "".join(pieces[180:])


def test_short_and_blank_texts() -> None:
    strategy = config.Chunking()
    assert chunking.chunks("just a few words", strategy) == ["just a few words"]
    assert chunking.chunks("   \n\n  ", strategy) == []


@pytest.mark.parametrize(("size", "overlap"), [(99, 0), (4097, 0), (800, 401), (100, -1)])
def test_strategies_outside_openais_rules_are_refused(size: int, overlap: int) -> None:
    with pytest.raises(pydantic.ValidationError):
        config.Chunking(max_chunk_size_tokens=size, chunk_overlap_tokens=overlap)


def test_the_default_is_openais_auto() -> None:
    strategy = config.Chunking()
    assert (strategy.max_chunk_size_tokens, strategy.chunk_overlap_tokens) == (800, 400)
