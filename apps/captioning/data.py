"""Data for the captioning pipeline: the embedded scene generator, in-memory image decoding, and
readers for the COCO captions and Flickr8k formats."""

import json
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..checks import check_choice, check_int, check_split_fractions, read_utf8

__all__ = [
    "COLOURS",
    "NOISE",
    "RELATIONS",
    "SHAPES",
    "SIZES",
    "decode_image",
    "generate_scenes",
    "load_default",
    "load_images",
    "read_coco",
    "read_flickr8k",
]

# The scene vocabulary. Each colour has one channel >= 200, the background none above 48 + NOISE,
# and any two colours differ by >= 150 in some channel, so a pixel's colour is never in doubt.
SHAPES = ("circle", "square", "triangle")
COLOURS = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (40, 90, 240),
    "yellow": (240, 220, 40),
    "white": (240, 240, 240),
}
# side of a shape's bounding box as a fraction of `image_size`: a large shape covers 4x the pixels
SIZES = {"small": 0.2, "large": 0.4}
RELATIONS = ("left of", "above")
NOISE = 8  # every pixel gets uniform integer noise in [-NOISE, NOISE], per channel

_COLOUR_KEYS = list(COLOURS)
_SIZE_KEYS = list(SIZES)
_TWO_SHAPES = 0.6  # probability that a scene holds two shapes
_MIN_IMAGE_SIZE = 32  # below this a small circle, square and triangle are hard to tell apart
_MISSING = ("warn", "skip", "error")
_FORMATS = "JPEG/PNG/GIF/BMP"


def _shape_mask(shape, side):
    """A boolean (side, side) mask, tested at pixel centres: a disc, the full box, or an
    upward triangle with its apex at the top centre and its base along the bottom row."""
    centres = np.arange(side) + 0.5
    v, u = np.meshgrid(centres, centres, indexing="ij")  # (side, side): row, column
    if shape == "circle":
        return (u - side / 2) ** 2 + (v - side / 2) ** 2 <= (side / 2) ** 2
    if shape == "square":
        return np.ones((side, side), dtype=bool)
    return np.abs(u - side / 2) <= v / 2


def _place_pair(rng, side_a, side_b, image_size, margin, gap):
    """Starts of two boxes along the relation's axis (a first, then b at least `gap` further)
    and across it (overlapping by at least half the smaller side, so the other relation never holds)."""
    along_a = int(rng.integers(margin, image_size - margin - side_a - gap - side_b + 1))
    along_b = int(rng.integers(along_a + side_a + gap, image_size - margin - side_b + 1))
    across_a = int(rng.integers(margin, image_size - margin - side_a + 1))
    overlap = -(-min(side_a, side_b) // 2)
    low = max(margin, across_a - side_b + overlap)
    high = min(image_size - margin - side_b, across_a + side_a - overlap)
    across_b = int(rng.integers(low, high + 1))
    return (along_a, across_a), (along_b, across_b)


def _scene(rng, image_size, sides, masks, margin, gap):
    """One `(image, caption)`: the uint8 (image_size, image_size, 3) image and its caption."""
    # 1. the shapes: one or two, with different colours when two
    count = 2 if rng.random() < _TWO_SHAPES else 1
    colours = [_COLOUR_KEYS[i] for i in rng.choice(len(_COLOUR_KEYS), size=count, replace=False)]
    shapes = [SHAPES[int(rng.integers(len(SHAPES)))] for _ in range(count)]
    sizes = [_SIZE_KEYS[int(rng.integers(len(_SIZE_KEYS)))] for _ in range(count)]
    # 2. the top-left corners (row, column); with two shapes, the first named is left or on top
    if count == 1:
        side = sides[sizes[0]]
        corners = [tuple(int(c) for c in rng.integers(margin, image_size - margin - side + 1, size=2))]
        relation = None
    else:
        relation = RELATIONS[int(rng.integers(len(RELATIONS)))]
        first, second = _place_pair(rng, sides[sizes[0]], sides[sizes[1]], image_size, margin, gap)
        if relation == "left of":  # along = column, across = row
            corners = [first[::-1], second[::-1]]
        else:
            corners = [first, second]
    # 3. a dark background, the shapes painted flat, then the same light noise over everything
    canvas = np.empty((image_size, image_size, 3), dtype=np.int16)
    canvas[:] = rng.integers(16, 49, size=3)
    for shape, colour, size, (row, column) in zip(shapes, colours, sizes, corners, strict=True):
        side = sides[size]
        box = canvas[row : row + side, column : column + side]
        box[masks[shape, size]] = COLOURS[colour]
    canvas += rng.integers(-NOISE, NOISE + 1, size=canvas.shape, dtype=np.int16)
    image = np.clip(canvas, 0, 255).astype(np.uint8)
    # 4. the caption
    phrases = [
        f"a {size} {colour} {shape}" for shape, colour, size in zip(shapes, colours, sizes, strict=True)
    ]
    caption = phrases[0] if count == 1 else f"{phrases[0]} {relation} {phrases[1]}"
    return image, caption


def generate_scenes(n=3000, image_size=64, seed=0):
    """`n` rendered scenes of coloured shapes and their captions: `(images, captions)`.

    `images` is a uint8 array (n, image_size, image_size, 3), `captions` a list of n strings.
    Seeded and deterministic (`numpy.random.default_rng(seed)`), rendered with NumPy only.

    Each scene holds one shape (probability 0.4) or two (0.6) on a dark background with a
    random tint; every pixel then gets uniform noise in [-NOISE, NOISE]. A shape is one of
    `SHAPES`, filled flat with one of `COLOURS`, its bounding box a square of side
    `round(SIZES[size] * image_size)` pixels (13 and 26 at 64) placed fully inside the image.
    The two shapes of a scene always have different colours and never overlap.

    Grammar (lower-case, tokens separated by single spaces, no final period; 4, 9 or 10 tokens):

        caption  -> NP | NP RELATION NP
        NP       -> "a" SIZE COLOUR SHAPE        SIZE in SIZES, COLOUR in COLOURS, SHAPE in SHAPES
        RELATION -> "left of" | "above"

    The caption is a function of the image. Two shapes are placed either side by side (their
    boxes at least a gap of `round(0.06 * image_size)` pixels apart horizontally and
    overlapping vertically by at least half the smaller side): "left of", and the left shape
    is named first; or one over the other (the same with the axes swapped): "above", and the
    top shape is named first. So the boxes are disjoint along exactly one axis, which gives
    the relation, and the colours tell which shape is which. `image_size` must be at least
    32, where a small shape is still 6 pixels across.

    Example:

    >>> images, captions = generate_scenes(4, image_size=64, seed=0)
    >>> images.shape, images.dtype, len(captions)
    ((4, 64, 64, 3), dtype('uint8'), 4)
    >>> captions[0]
    'a small blue circle'
    """
    check_int("n", n)
    check_int("image_size", image_size, minimum=_MIN_IMAGE_SIZE)
    rng = np.random.default_rng(seed)
    sides = {size: round(fraction * image_size) for size, fraction in SIZES.items()}
    masks = {(shape, size): _shape_mask(shape, side) for shape in SHAPES for size, side in sides.items()}
    margin, gap = max(1, round(0.02 * image_size)), max(2, round(0.06 * image_size))
    images = np.empty((n, image_size, image_size, 3), dtype=np.uint8)
    captions = []
    for i in range(n):
        images[i], caption = _scene(rng, image_size, sides, masks, margin, gap)
        captions.append(caption)
    return images, captions


def load_default(n=8000, image_size=64, seed=0, val_fraction=0.1, test_fraction=0.1):
    """The embedded default data: `(train, validation, test)`, each `(images, captions)` of
    `generate_scenes(n, image_size, seed)`.

    The scenes are split in order: the last `round(n * test_fraction)` for test, the
    `round(n * val_fraction)` before them for validation, the others for training.
    """
    check_split_fractions(val_fraction, test_fraction)
    images, captions = generate_scenes(n, image_size=image_size, seed=seed)
    n_val, n_test = round(n * val_fraction), round(n * test_fraction)
    bounds = (0, n - n_val - n_test, n - n_test, n)
    return tuple((images[a:b], captions[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True))


def decode_image(data, image_size, name="image", *, argument="data"):
    """Encoded image bytes (JPEG, PNG, GIF or BMP) as a uint8 (image_size, image_size, 3) array.

    Decoded in memory with `tf.io.decode_image(data, channels=3, expand_animations=False)`:
    grayscale and RGBA become RGB (alpha dropped), an animated GIF gives its first frame.
    Then a plain resize to a square with `tf.image.resize(..., antialias=True)` (bilinear; the
    aspect ratio is not kept, nothing is cropped), rounded and clipped to uint8.
    Bytes that do not decode raise a ValueError naming `argument` and `name`, e.g.
    "Argument `images`: images[3] is not a decodable JPEG/PNG/GIF/BMP image."

    Example:

    >>> png = tf.io.encode_png(np.zeros((10, 20, 1), dtype=np.uint8)).numpy()
    >>> decode_image(png, 8).shape
    (8, 8, 3)
    """
    check_int("image_size", image_size, minimum=1)
    if isinstance(data, tf.Tensor) and data.dtype == tf.string and data.shape.rank == 0:
        data = data.numpy()
    if isinstance(data, bytearray | memoryview):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise ValueError(
            f"Argument `{argument}`: {name} must be encoded image bytes. Received: {type(data).__name__}"
        )
    try:
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
        raise ValueError(f"Argument `{argument}`: {name} is not a decodable {_FORMATS} image.") from None
    resized = tf.image.resize(image, (image_size, image_size), antialias=True)  # (s, s, 3) float32
    return np.clip(np.round(resized.numpy()), 0, 255).astype(np.uint8)


def _decode_file(path, image_size, argument):
    """The image file at `path`, decoded and resized; errors name `argument` and the file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"Argument `{argument}`: no such file {str(path)!r}.")
    return decode_image(path.read_bytes(), image_size, name=f"file {str(path)!r}", argument=argument)


def load_images(paths, image_size):
    """Image files decoded and resized in memory (see `decode_image`): uint8 (n, s, s, 3).

    Nothing is written to disk. A missing or undecodable file raises a ValueError naming it.
    """
    check_int("image_size", image_size, minimum=1)
    if isinstance(paths, str | Path):
        raise ValueError(f"Argument `paths` must be a list of file paths, not one path. Received: {paths!r}")
    paths = list(paths)
    images = np.empty((len(paths), image_size, image_size, 3), dtype=np.uint8)
    for i, path in enumerate(paths):
        images[i] = _decode_file(path, image_size, "paths")
    return images


def _report(problems, missing, function, source):
    """Apply the `missing` policy to `problems`, a list of `(what, names)`; empty `names` are no problem."""
    parts = [
        f"{len(names)} {what} (first: {', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
        for what, names in problems
        if names
    ]
    if not parts or missing == "skip":
        return
    if missing == "error":
        raise ValueError(
            f"Argument `missing` is 'error' and {source} has {' and '.join(parts)}. "
            "Pass missing='warn' or missing='skip' to skip them."
        )
    warnings.warn(f"{function}: skipped {' and '.join(parts)} in {source}.", UserWarning, stacklevel=3)


def _check_folder(folder):
    path = Path(folder)
    if not path.is_dir():
        raise ValueError(f"Argument `image_folder`: no such folder {str(path)!r}.")
    return path


def _decode_found(captions, files, problems, missing, source, folder, image_size):
    """`(images, captions, names)` of the keys of `captions` (`{key: [caption, ...]}`) that have
    captions and whose file (`files[key]`) is in `folder`, decoded and resized; first the
    `missing` policy for `problems` and for the files absent from the folder.
    `source` is `(function, argument, path)` of the reader, for its messages."""
    function, argument, path = source
    absent = [key for key in captions if captions[key] and not (folder / files[key]).is_file()]
    lost = sum(len(captions[key]) for key in absent)
    problems = [
        *problems,
        (f"image file(s) missing from the folder ({lost} captions)", [repr(files[k]) for k in absent]),
    ]
    _report(problems, missing, function, repr(str(path)))
    gone = set(absent)
    keep = [key for key in captions if captions[key] and key not in gone]
    if not keep:
        raise ValueError(
            f"Arguments `{argument}` and `image_folder`: no image in {str(folder)!r} has a caption "
            f"in {str(path)!r}."
        )
    images = np.stack([_decode_file(folder / files[key], image_size, "image_folder") for key in keep])
    return images, [captions[key] for key in keep], [files[key] for key in keep]


def _coco_entries(data, key, id_key, text_key, path):
    """The list `data[key]` of a COCO captions file, each entry a dict with `id_key` and a string
    `text_key`, or a ValueError naming the first that is not."""
    for i, entry in enumerate(data[key]):
        if not isinstance(entry, dict) or id_key not in entry or not isinstance(entry.get(text_key), str):
            raise ValueError(
                f"Argument `captions_json`: {key}[{i}] of {str(path)!r} needs an `{id_key}` and a string "
                f"`{text_key}`. Received: {str(entry)[:80]}"
            )
    return data[key]


def read_coco(captions_json, image_folder, image_size=64, missing="warn"):
    """Images and captions in the COCO captions format: `(images, captions, names)`.

    `captions_json` is e.g. `annotations/captions_train2017.json`: `images[]` records with
    `id` and `file_name`, `annotations[]` with `image_id` and `caption`; other keys are
    ignored. `image_folder` holds the files (e.g. `train2017/`); files that no record names
    are ignored. Images are decoded and resized in memory (`decode_image`).

    Returns `images`, uint8 (n, image_size, image_size, 3) in the order of `images[]`;
    `captions`, a list of n lists of strings (every caption of the image, in file order,
    surrounding whitespace stripped); `names`, the n file names.

    `missing` says what to do with image records that have no caption and with captions
    whose image is missing (an unknown `image_id`, or a record whose file is not in the
    folder): "warn" (skip them with a UserWarning giving the counts and first names),
    "skip" (silently) or "error" (a ValueError).
    """
    check_choice("missing", missing, _MISSING)
    check_int("image_size", image_size, minimum=1)
    path, text = read_utf8(captions_json, "captions_json")
    folder = _check_folder(image_folder)
    # 1. parse and check the structure
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"Argument `captions_json`: {str(path)!r} is not valid JSON "
            f"(line {error.lineno}, column {error.colno}: {error.msg})."
        ) from None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(key), list) for key in ("images", "annotations")
    ):
        raise ValueError(
            f"Argument `captions_json`: {str(path)!r} is not in the COCO captions format "
            "(expected an object with the lists `images` and `annotations`)."
        )
    records = {}
    for record in _coco_entries(data, "images", "id", "file_name", path):
        if record["id"] in records:
            raise ValueError(
                f"Argument `captions_json`: image id {record['id']!r} appears twice in {str(path)!r}."
            )
        records[record["id"]] = record["file_name"]
    # 2. gather the captions of each image, in file order
    captions, orphans = {image_id: [] for image_id in records}, []
    for annotation in _coco_entries(data, "annotations", "image_id", "caption", path):
        if annotation["image_id"] in captions:
            captions[annotation["image_id"]].append(annotation["caption"].strip())
        else:
            orphans.append(f"image_id {annotation['image_id']!r}")
    # 3. the policy for what is missing, then decode what is kept
    problems = [
        ("image record(s) without captions", [repr(records[i]) for i in records if not captions[i]]),
        ("caption(s) with an unknown image_id", orphans),
    ]
    source = ("read_coco", "captions_json", path)
    return _decode_found(captions, records, problems, missing, source, folder, image_size)


def read_flickr8k(token_file, image_folder, image_size=64, missing="warn"):
    """Images and captions in the Flickr8k format: `(images, captions, names)`.

    `token_file` is `Flickr8k.token.txt` (or `Flickr8k.lemma.token.txt`): UTF-8 lines
    `NAME#K<TAB>CAPTION`, e.g. "1000268201_693b08cb0e.jpg#0<TAB>A child in a pink dress ...",
    five per image (K = 0..4); empty lines are skipped. `image_folder` holds the files
    (`Flicker8k_Dataset/`); files the token file does not name are ignored. Images are
    decoded and resized in memory (`decode_image`).

    Returns `images`, uint8 (n, image_size, image_size, 3) in the order of each name's first
    line; `captions`, a list of n lists of strings (the image's captions in file order,
    surrounding whitespace stripped); `names`, the n file names.

    `missing` says what to do with captions whose image file is not in the folder (the
    original token file names one, "2258277193_586949ec62.jpg.1"): "warn" (skip them with a
    UserWarning giving the counts and first names), "skip" (silently) or "error" (a ValueError).
    """
    check_choice("missing", missing, _MISSING)
    check_int("image_size", image_size, minimum=1)
    path, text = read_utf8(token_file, "token_file")
    folder = _check_folder(image_folder)
    # 1. parse: NAME#K<TAB>CAPTION
    captions = {}
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        key, tab, caption = line.partition("\t")
        name, hash_, _ = key.strip().rpartition("#")
        if not tab or not hash_ or not name:
            raise ValueError(
                f"Argument `token_file`: line {number} of {str(path)!r} is not NAME#K<TAB>CAPTION. "
                f"Received line: {line[:80]!r}"
            )
        captions.setdefault(name, []).append(caption.strip())
    if not captions:
        raise ValueError(
            f"Argument `token_file`: {str(path)!r} is empty (expected NAME#K<TAB>CAPTION lines)."
        )
    # 2. the policy for captions whose image is missing, then decode what is kept
    files = {name: name for name in captions}
    source = ("read_flickr8k", "token_file", path)
    return _decode_found(captions, files, [], missing, source, folder, image_size)
