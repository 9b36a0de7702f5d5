"""Synthetic portraits drawn by code for the demo registry.

They are cartoons made of ellipses and polygons on a patterned backdrop: no real face, nothing
downloaded. Each seed gives a different backdrop, skin tone, hair, eyes and mouth, so that two
portraits are clearly different images to the perceptual hash in :mod:`.similarity` while a
portrait and its near copies (re-encoded, resized, slightly cropped) stay close.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter

#: Portrait size in pixels (width, height), roughly the 3:4 of an ID card photo.
PORTRAIT_SIZE = (300, 400)

_SKIN_TONES = ((241, 194, 167), (224, 172, 138), (198, 140, 103), (160, 110, 80), (250, 215, 190))
_HAIR_COLOURS = ((20, 20, 20), (60, 40, 30), (110, 70, 40), (35, 30, 45), (90, 90, 90))


def draw_portrait(seed: int, size: tuple[int, int] = PORTRAIT_SIZE) -> Image.Image:
    """An RGB cartoon portrait, fully determined by ``seed``."""
    rng = random.Random(seed)  # noqa: S311 (drawing, not security)
    width, height = size
    image = Image.new("RGB", size, _random_colour(rng, 40, 230))
    draw = ImageDraw.Draw(image)
    # A bold backdrop of large blocks and discs: it is what makes two portraits differ at the
    # low frequencies a perceptual hash looks at (faces drawn from one template would not).
    for _ in range(rng.randint(5, 8)):
        x0, y0 = rng.randint(-width // 3, width), rng.randint(-height // 3, height)
        x1, y1 = x0 + rng.randint(width // 4, width), y0 + rng.randint(height // 4, height)
        colour = _random_colour(rng, 0, 255)
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
    skin = rng.choice(_SKIN_TONES)
    hair = rng.choice(_HAIR_COLOURS)
    cx = width // 2 + rng.randint(-width // 10, width // 10)
    cy = height // 2 + rng.randint(-height // 20, height // 10)
    head_w = rng.randint(width * 30 // 100, width * 40 // 100)
    head_h = rng.randint(height * 30 // 100, height * 38 // 100)
    # Shoulders, neck, hair behind the head, head, then the features.
    shirt = _random_colour(rng, 0, 255)
    draw.ellipse(
        (cx - width // 2, cy + head_h // 2 + 30, cx + width // 2, height + height // 2), fill=shirt
    )
    draw.rectangle((cx - head_w // 5, cy, cx + head_w // 5, cy + head_h // 2 + 50), fill=skin)
    hair_drop = rng.randint(0, head_h // 2)
    draw.ellipse(
        (cx - head_w // 2 - 12, cy - head_h // 2 - 20, cx + head_w // 2 + 12, cy + hair_drop),
        fill=hair,
    )
    draw.ellipse(
        (cx - head_w // 2, cy - head_h // 2, cx + head_w // 2, cy + head_h // 2), fill=skin
    )
    draw.chord(
        (
            cx - head_w // 2,
            cy - head_h // 2 - 10,
            cx + head_w // 2,
            cy + rng.randint(-head_h // 3, 0),
        ),
        180,
        360,
        fill=hair,
    )
    eye_dx, eye_y = head_w // 5 + rng.randint(-5, 5), cy - head_h // 10 + rng.randint(-8, 8)
    eye_r = rng.randint(5, 10)
    for ex in (cx - eye_dx, cx + eye_dx):
        draw.ellipse(
            (ex - eye_r * 2, eye_y - eye_r, ex + eye_r * 2, eye_y + eye_r), fill=(250, 250, 250)
        )
        draw.ellipse((ex - eye_r, eye_y - eye_r, ex + eye_r, eye_y + eye_r), fill=(40, 30, 25))
        brow_y = eye_y - eye_r * 2 - rng.randint(2, 8)
        draw.line(
            (ex - eye_r * 2, brow_y, ex + eye_r * 2, brow_y - rng.randint(-4, 4)),
            fill=hair,
            width=4,
        )
    nose_y = cy + head_h // 10
    draw.line((cx, eye_y + 10, cx - 6, nose_y, cx + 4, nose_y), fill=_darker(skin), width=3)
    mouth_y = cy + head_h // 4
    mouth_w = rng.randint(head_w // 8, head_w // 4)
    draw.arc(
        (cx - mouth_w, mouth_y - 12, cx + mouth_w, mouth_y + 12),
        20,
        160,
        fill=(150, 50, 50),
        width=4,
    )
    # A little blur so the JPEG looks like a photo rather than flat vector art.
    return image.filter(ImageFilter.GaussianBlur(1.2))


def portrait_jpeg(seed: int, *, quality: int = 90, size: tuple[int, int] = PORTRAIT_SIZE) -> bytes:
    """:func:`draw_portrait` encoded as JPEG bytes."""
    buffer = io.BytesIO()
    draw_portrait(seed, size).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _random_colour(rng: random.Random, low: int, high: int) -> tuple[int, int, int]:
    return (rng.randint(low, high), rng.randint(low, high), rng.randint(low, high))


def _darker(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    return (colour[0] * 3 // 4, colour[1] * 3 // 4, colour[2] * 3 // 4)
