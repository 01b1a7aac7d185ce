"""The scene generator, its grammar and rendering, in-memory image decoding, and the caption readers."""

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from rnnkit.apps.captioning.data import (
    COLOURS,
    RELATIONS,
    SHAPES,
    SIZES,
    decode_image,
    generate_scenes,
    load_default,
    load_images,
    read_coco,
    read_flickr8k,
)

COCO_MINI = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "coco_mini_captions"

# The grammar, written out from the spec rather than built from the module's constants.
NP = r"a (small|large) (red|green|blue|yellow|white) (circle|square|triangle)"
CAPTION = re.compile(rf"{NP}( (left of|above) {NP})?")


def colour_mask(image, colour):
    """Pixels of one colour, by channel pattern alone: bright channels > 150, dark ones < 110."""
    r, g, b = (image[..., k].astype(int) for k in range(3))
    bright, dark = (lambda c: c > 150), (lambda c: c < 110)
    return {
        "red": bright(r) & dark(g) & dark(b),
        "green": dark(r) & bright(g) & dark(b),
        "blue": dark(r) & dark(g) & bright(b),
        "yellow": bright(r) & bright(g) & dark(b),
        "white": bright(r) & bright(g) & bright(b),
    }[colour]


def parse(caption):
    """[(size, colour, shape), ...] and the relation (None for one shape)."""
    match = CAPTION.fullmatch(caption)
    assert match, caption
    first, relation, second = match.group(1, 2, 3), match.group(5), match.group(6, 7, 8)
    return ([first] if relation is None else [first, second]), relation


@pytest.fixture(scope="module")
def scenes():
    return generate_scenes(400, image_size=64, seed=1)


def test_vocabulary():
    assert SHAPES == ("circle", "square", "triangle")
    assert set(COLOURS) == {"red", "green", "blue", "yellow", "white"}
    assert list(SIZES) == ["small", "large"]
    assert RELATIONS == ("left of", "above")


def test_generate_scenes_is_deterministic():
    images, captions = generate_scenes(50, image_size=32, seed=7)
    again_images, again_captions = generate_scenes(50, image_size=32, seed=7)
    other_images, other_captions = generate_scenes(50, image_size=32, seed=8)
    assert images.shape == (50, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, again_images)
    assert captions == again_captions
    assert captions != other_captions and not np.array_equal(images, other_images)
    # a longer run starts with the same scenes
    longer_images, longer_captions = generate_scenes(60, image_size=32, seed=7)
    np.testing.assert_array_equal(longer_images[:50], images)
    assert longer_captions[:50] == captions


def test_caption_grammar(scenes):
    _, captions = scenes
    assert all(CAPTION.fullmatch(caption) for caption in captions)
    counts = {
        relation: sum(parse(c)[1] == relation for c in captions) for relation in (None, "left of", "above")
    }
    assert all(count > 60 for count in counts.values()), counts
    words = {word for caption in captions for word in caption.split()}
    assert {
        "circle",
        "square",
        "triangle",
        "red",
        "green",
        "blue",
        "yellow",
        "white",
        "small",
        "large",
    } <= words


def test_caption_is_a_function_of_the_image(scenes):
    images, captions = scenes
    for image, caption in zip(images, captions, strict=True):
        phrases, relation = parse(caption)
        named = [colour for _, colour, _ in phrases]
        assert len(set(named)) == len(named)  # two shapes never share a colour
        for colour in COLOURS:
            mask = colour_mask(image, colour)
            assert mask.any() == (colour in named), (caption, colour)
            # fully inside the image: nothing on the outer rows and columns
            assert not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())
        if relation is None:
            continue
        (rows_a, cols_a), (rows_b, cols_b) = (np.nonzero(colour_mask(image, c)) for c in named)
        if relation == "left of":
            # the first named is entirely left of the second, with a gap, and they overlap vertically
            assert cols_a.mean() < cols_b.mean() and cols_a.max() + 2 < cols_b.min(), caption
            assert rows_a.min() <= rows_b.max() and rows_b.min() <= rows_a.max(), caption
        else:
            assert rows_a.mean() < rows_b.mean() and rows_a.max() + 2 < rows_b.min(), caption
            assert cols_a.min() <= cols_b.max() and cols_b.min() <= cols_a.max(), caption


def test_sizes_and_shapes_are_visibly_distinct(scenes):
    images, captions = scenes
    pixels = {"small": [], "large": []}
    fill = {"circle": [], "square": [], "triangle": []}
    for image, caption in zip(images, captions, strict=True):
        for size, colour, shape in parse(caption)[0]:
            rows, cols = np.nonzero(colour_mask(image, colour))
            pixels[size].append(len(rows))
            box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
            fill[shape].append(len(rows) / box)
    # a large shape has at least 1.5x the pixels of any small one (areas of a 13 vs 26 px box)
    assert max(pixels["small"]) * 1.5 < min(pixels["large"])
    # the share of its bounding box a shape fills: square 1, disc ~pi/4, triangle ~1/2
    assert min(fill["square"]) > 0.97
    assert 0.7 < min(fill["circle"]) and max(fill["circle"]) < 0.85
    assert 0.45 < min(fill["triangle"]) and max(fill["triangle"]) < 0.62


def test_generate_scenes_rejects_invalid_arguments():
    with pytest.raises(ValueError, match="Argument `n`"):
        generate_scenes(-1)
    with pytest.raises(ValueError, match="Argument `image_size` must be an integer >= 32"):
        generate_scenes(2, image_size=16)
    assert generate_scenes(0, image_size=32)[0].shape == (0, 32, 32, 3)


def test_load_default_splits_in_order():
    train, validation, test = load_default(n=50, image_size=32, seed=2, val_fraction=0.2, test_fraction=0.1)
    assert [len(split[1]) for split in (train, validation, test)] == [35, 10, 5]
    assert [split[0].shape[0] for split in (train, validation, test)] == [35, 10, 5]
    images, captions = generate_scenes(50, image_size=32, seed=2)
    np.testing.assert_array_equal(np.concatenate([train[0], validation[0], test[0]]), images)
    assert train[1] + validation[1] + test[1] == captions
    with pytest.raises(ValueError, match="Argument `val_fraction`"):
        load_default(n=10, val_fraction=1.5)
    with pytest.raises(ValueError, match="sum to less than 1"):
        load_default(n=10, val_fraction=0.5, test_fraction=0.5)


# ---------------------------------------------------------------------------------------------
# decoding


def png(array):
    return tf.io.encode_png(np.asarray(array, dtype=np.uint8)).numpy()


@pytest.mark.parametrize(
    ("channels", "value", "expected"),
    [(1, [100], [100, 100, 100]), (3, [10, 200, 30], [10, 200, 30]), (4, [10, 200, 30, 0], [10, 200, 30])],
    ids=["grayscale", "rgb", "rgba"],
)
def test_decode_image_png_to_rgb(channels, value, expected):
    data = png(np.broadcast_to(np.array(value, dtype=np.uint8), (12, 20, channels)))
    image = decode_image(data, 8)
    assert image.shape == (8, 8, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, np.broadcast_to(expected, (8, 8, 3)))


def test_decode_image_jpeg_resizes_to_a_square():
    rng = np.random.default_rng(0)
    array = np.broadcast_to(np.array([200, 60, 90], dtype=np.uint8), (30, 50, 3)).copy()
    array[:, 25:] = rng.integers(0, 256, size=(30, 25, 3))  # texture on the right half
    data = tf.io.encode_jpeg(array, quality=95).numpy()
    image = decode_image(data, 16)
    assert image.shape == (16, 16, 3) and image.dtype == np.uint8
    # the flat left half survives the plain (non-cropping) resize, within JPEG error
    np.testing.assert_allclose(image[:, :6].reshape(-1, 3).mean(0), [200, 60, 90], atol=6)
    # a scalar string tensor works too
    np.testing.assert_array_equal(decode_image(tf.constant(data), 16), image)


def test_decode_image_errors():
    message = "Argument `images`: images[3] is not a decodable JPEG/PNG/GIF/BMP image."
    with pytest.raises(ValueError, match=re.escape(message)):
        decode_image(b"not an image at all", 8, name="images[3]", argument="images")
    with pytest.raises(ValueError, match=r"Argument `data`: image is not a decodable"):
        decode_image(png(np.zeros((8, 8, 3)))[:30], 8)  # truncated PNG
    with pytest.raises(ValueError, match=r"Argument `data`: image is not a decodable"):
        decode_image(b"", 8)
    with pytest.raises(ValueError, match="must be encoded image bytes"):
        decode_image(np.zeros((8, 8, 3), dtype=np.uint8), 8)
    with pytest.raises(ValueError, match="Argument `image_size`"):
        decode_image(png(np.zeros((8, 8, 3))), 0)


def test_load_images(tmp_path):
    for k, name in enumerate(["a.png", "b.png"]):
        (tmp_path / name).write_bytes(png(np.full((9, 7, 3), 50 * k)))
    images = load_images([tmp_path / "a.png", str(tmp_path / "b.png")], 4)
    assert images.shape == (2, 4, 4, 3) and images.dtype == np.uint8
    assert images[0].max() == 0 and images[1].min() == 50
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 garbage")
    with pytest.raises(ValueError, match=r"Argument `paths`: file '.*bad\.jpg' is not a decodable"):
        load_images([tmp_path / "a.png", tmp_path / "bad.jpg"], 4)
    with pytest.raises(ValueError, match=r"Argument `paths`: no such file '.*nope\.png'"):
        load_images([tmp_path / "nope.png"], 4)
    assert load_images([], 4).shape == (0, 4, 4, 3)


# ---------------------------------------------------------------------------------------------
# readers


@pytest.fixture
def coco(tmp_path):
    """b.png has no caption, c.png is listed but absent, one caption points at no image."""
    folder = tmp_path / "images"
    folder.mkdir()
    for k, name in enumerate(["a.png", "b.png", "d.png"]):
        (folder / name).write_bytes(png(np.full((10, 14, 3), 40 * (k + 1))))
    data = {
        "info": {},
        "images": [
            {"id": 4, "file_name": "d.png"},
            {"id": 1, "file_name": "a.png"},
            {"id": 2, "file_name": "b.png"},
            {"id": 3, "file_name": "c.png"},
        ],
        "annotations": [
            {"image_id": 1, "id": 10, "caption": "A first caption of a."},
            {"image_id": 4, "id": 11, "caption": " Only caption of d.\n"},
            {"image_id": 3, "id": 12, "caption": "A caption of absent c."},
            {"image_id": 99, "id": 13, "caption": "A caption of nothing."},
            {"image_id": 1, "id": 14, "caption": "A second caption of a."},
        ],
    }
    path = tmp_path / "captions.json"
    path.write_text(json.dumps(data))
    return path, folder


def test_read_coco_warns_and_skips(coco):
    with pytest.warns(UserWarning, match="read_coco: skipped") as record:
        images, captions, names = read_coco(*coco, image_size=6)
    message = str(record[0].message)
    assert "1 image record(s) without captions (first: 'b.png')" in message
    assert "1 caption(s) with an unknown image_id (first: image_id 99)" in message
    assert "1 image file(s) missing from the folder (1 captions) (first: 'c.png')" in message
    assert names == ["d.png", "a.png"]  # the order of images[]
    assert captions == [["Only caption of d."], ["A first caption of a.", "A second caption of a."]]
    assert images.shape == (2, 6, 6, 3) and images.dtype == np.uint8
    assert images[0].min() == images[0].max() == 120 and images[1].max() == 40


def test_read_coco_skip_and_error(coco):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, captions, names = read_coco(*coco, image_size=6, missing="skip")
    assert names == ["d.png", "a.png"] and len(captions) == 2
    with pytest.raises(
        ValueError, match=r"Argument `missing` is 'error'.*1 image record\(s\) without captions"
    ):
        read_coco(*coco, missing="error")
    with pytest.raises(ValueError, match="Argument `missing` must be one of"):
        read_coco(*coco, missing="ignore")


def test_read_coco_bad_inputs(coco, tmp_path):
    path, folder = coco
    with pytest.raises(ValueError, match="Argument `captions_json`: no such file"):
        read_coco(tmp_path / "nope.json", folder)
    with pytest.raises(ValueError, match="Argument `image_folder`: no such folder"):
        read_coco(path, tmp_path / "nope")
    broken = tmp_path / "broken.json"
    broken.write_text('{"images": [')
    with pytest.raises(ValueError, match=r"Argument `captions_json`: .* is not valid JSON \(line 1"):
        read_coco(broken, folder)
    broken.write_text('{"images": []}')
    with pytest.raises(ValueError, match="not in the COCO captions format"):
        read_coco(broken, folder)
    broken.write_text('{"images": [{"id": 1}], "annotations": []}')
    with pytest.raises(ValueError, match=r"images\[0\] .* needs an `id` and a string `file_name`"):
        read_coco(broken, folder)
    (folder / "a.png").write_bytes(b"corrupt")
    with pytest.raises(ValueError, match=r"Argument `image_folder`: file '.*a\.png' is not a decodable"):
        read_coco(path, folder, missing="skip")


@pytest.fixture
def flickr(tmp_path):
    """Two images with captions in mixed order, and one token line whose image is absent."""
    folder = tmp_path / "Flicker8k_Dataset"
    folder.mkdir()
    for k, name in enumerate(["1000_aa.jpg", "2000_bb.jpg"]):
        (folder / name).write_bytes(tf.io.encode_jpeg(np.full((12, 16, 3), 60 * (k + 1), np.uint8)).numpy())
    (folder / "3000_cc.jpg").write_bytes(png(np.zeros((4, 4, 3))))  # in the folder, never named: ignored
    lines = [
        "2000_bb.jpg#0\tA dog runs .",
        "1000_aa.jpg#0\tA child in a pink dress .",
        "2258277193_586949ec62.jpg.1#0\tA ghost image .",
        "",
        "1000_aa.jpg#1\tA girl climbs .",
        "2000_bb.jpg#1\tThe dog jumps .\r",
    ]
    path = tmp_path / "Flickr8k.token.txt"
    path.write_text("\n".join(lines) + "\n")
    return path, folder


def test_read_flickr8k(flickr):
    with pytest.warns(
        UserWarning, match=r"1 image file\(s\) missing from the folder \(1 captions\)"
    ) as record:
        images, captions, names = read_flickr8k(*flickr, image_size=5)
    assert "'2258277193_586949ec62.jpg.1'" in str(record[0].message)
    assert names == ["2000_bb.jpg", "1000_aa.jpg"]
    assert captions == [["A dog runs .", "The dog jumps ."], ["A child in a pink dress .", "A girl climbs ."]]
    assert images.shape == (2, 5, 5, 3) and images.dtype == np.uint8
    np.testing.assert_allclose(images.reshape(2, -1).mean(1), [120, 60], atol=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_flickr8k(*flickr, image_size=5, missing="skip")[2] == names
    with pytest.raises(
        ValueError, match=r"'error'.*missing from the folder.*'2258277193_586949ec62\.jpg\.1'"
    ):
        read_flickr8k(*flickr, missing="error")


def test_read_flickr8k_bad_inputs(flickr, tmp_path):
    path, folder = flickr
    with pytest.raises(ValueError, match="Argument `missing`"):
        read_flickr8k(path, folder, missing=None)
    with pytest.raises(ValueError, match="Argument `token_file`: no such file"):
        read_flickr8k(tmp_path / "nope.txt", folder)
    with pytest.raises(ValueError, match="Argument `image_folder`: no such folder"):
        read_flickr8k(path, tmp_path / "nope")
    bad = tmp_path / "bad.txt"
    bad.write_text("1000_aa.jpg#0\tfine\n1000_aa.jpg no tab here\n")
    with pytest.raises(ValueError, match=r"line 2 of .* is not NAME#K<TAB>CAPTION"):
        read_flickr8k(bad, folder)
    bad.write_text("\n\n")
    with pytest.raises(ValueError, match="is empty"):
        read_flickr8k(bad, folder)
    bad.write_text("9_zz.jpg#0\tno such image\n")
    with pytest.raises(ValueError, match="no image in .* has a caption"):
        read_flickr8k(bad, folder, missing="skip")


@pytest.mark.skipif(not COCO_MINI.is_dir(), reason="shared coco_mini_captions not available")
def test_read_coco_mini():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every image has its file and its captions
        images, captions, names = read_coco(
            COCO_MINI / "captions_train2017_subset.json", COCO_MINI / "images", image_size=64
        )
    assert images.shape == (80, 64, 64, 3) and images.dtype == np.uint8
    assert len(captions) == len(names) == 80 and len(set(names)) == 80
    assert all(len(references) == 5 for references in captions)
    assert all(isinstance(c, str) and len(c.split()) >= 5 for references in captions for c in references)
    assert all((COCO_MINI / "images" / name).is_file() for name in names)
    assert images.std() > 20  # real photographs, not blank
