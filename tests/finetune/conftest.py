"""The tiny sentence encoder the fine-tuning and promotion tests train (seconds, not minutes)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 2-layer, 32-wide BERT with MiniLM's tokenizer, saved as a sentence-transformers directory."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer, BertConfig, BertModel

    from shopsage.text import default_model_path

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny")
    tok = AutoTokenizer.from_pretrained(default_model_path())
    bert = BertModel(BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                intermediate_size=64, max_position_embeddings=64))
    bert.save_pretrained(path / "bert")
    tok.save_pretrained(path / "bert")
    try:
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    except ImportError:  # older sentence-transformers
        from sentence_transformers.models import Normalize, Pooling, Transformer
    word = Transformer(str(path / "bert"), max_seq_length=16)
    st = SentenceTransformer(modules=[word, Pooling(32, "mean"), Normalize()], device="cpu")
    st.save(str(path / "st"))
    return str(path / "st")
