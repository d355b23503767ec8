"""Retrieval: loaders, chunking, embeddings, index, hybrid retriever, ingestion."""
