"""Tencent's legacy ``/face/idcardcompare`` API: client, signature, codes and backend."""
