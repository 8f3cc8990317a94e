"""BC-UR: Bytewords, fountain-coded multi-part URs for the QR transport.

Modules, bottom up: ``bytewords`` (BCR-2020-012), ``xoshiro`` (the shared PRNG and alias sampler),
``cbor`` (the strict CBOR subset), ``fountain`` (fragments, parts, encoder, decoder), ``ur``
(UR strings, BCR-2020-005) and ``frames`` (payload bytes <-> upper-case frame texts, the API the
CLIs use: ``encode_frames``, ``decode_frames``, ``Assembler``).
"""
