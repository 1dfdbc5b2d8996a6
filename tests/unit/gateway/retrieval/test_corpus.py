"""The labelled corpus the retrieval-quality tests share (`fixtures.corpus`) is what they take it
for: every document read by the gateway's own extraction, in each of its formats, and every
question labelled with exactly one document, each document answering one question at least. A
mislabelled or unreadable document would show up there as a retrieval miss instead."""

from __future__ import annotations

import collections

import pytest

from fixtures import corpus
from runestone_gateway.retrieval import extract


def test_it_has_two_dozen_documents_and_questions_in_every_format() -> None:
    assert len(corpus.DOCUMENTS) >= 24
    assert len(corpus.QUESTIONS) >= 24
    formats = {extract.extension(document.filename) for document in corpus.DOCUMENTS}
    assert {"txt", "md", "html", "json", "csv", "pdf"} <= formats


def test_filenames_are_unique_and_every_one_answers_a_question() -> None:
    names = collections.Counter(document.filename for document in corpus.DOCUMENTS)
    assert max(names.values()) == 1
    answers = {question.answer for question in corpus.QUESTIONS}
    assert answers == set(names)


def test_questions_are_distinct() -> None:
    texts = [question.text for question in corpus.QUESTIONS]
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize("document", corpus.DOCUMENTS, ids=lambda document: document.filename)
def test_the_gateway_reads_every_document(document: corpus.Document) -> None:
    text = extract.text(document.filename, document.data)
    assert len(text.split()) >= 10
    assert "<" not in text  # HTML markup (and the PDF's operators) are gone
