"""Alibaba Cloud 实人认证 (Cloudauth 2019-03-07) ``ContrastFaceVerify``, with our own client.

``signing`` is the ACS3-HMAC-SHA256 signature (both sides), ``client`` a small ``requests``
client that signs and sends one call, ``codes`` the catalogue, ``backend`` the
:class:`~face_idcard.backends.Backend`. The official SDK is a test dependency only (its tree
is heavy for one call); the docs say why.
"""
