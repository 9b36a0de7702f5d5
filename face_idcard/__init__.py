"""face_idcard: real-name face verification (人脸核身) for Django sites."""

__version__ = "1.0.0rc1"
