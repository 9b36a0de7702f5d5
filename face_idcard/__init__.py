"""face_idcard: real-name face verification (人脸核身) for Django sites."""

__version__ = "0.1.0"
