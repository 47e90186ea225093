"""The bundled policy documents (YAML): what policy authors edit; nothing else lives here.

Their language (schema, loader, vocabulary, machine, checker) is engine.domain.policy's.
"""
