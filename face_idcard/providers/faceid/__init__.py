"""Tencent Cloud FaceID ``ImageRecognitionV2`` through Tencent's official SDK.

``sdk`` wraps ``FaceidClient`` (the SDK signs and sends; nothing here signs by hand),
``codes`` is the catalogue, ``encryption`` the optional ``Encryption`` of Name and IdCard,
``backend`` the :class:`~face_idcard.backends.Backend`. Needs the ``[faceid]`` extra.
"""
