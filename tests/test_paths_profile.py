import pytest

from steelnb import env
from steelnb.course.experiment import native_geometry
from steelnb.course.profile import current_profile
from steelnb.course.setup import course_split
from steelnb.data import locations as paths
from steelnb.data.layouts import open_dataset
from steelnb.training.config import TrainConfig


def test_demo_fallback_says_so(monkeypatch, tmp_path, capsys, demo_root):
    monkeypatch.delenv("STEELNB_DATA", raising=False)
    monkeypatch.setattr(paths, "PROJECT_ROOT", tmp_path)
    for name in env.COLAB_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(paths, "SEVERSTAL_DIR", tmp_path / "data" / "severstal")
    monkeypatch.setattr(paths, "NEU_SEG_DIR", tmp_path / "data" / "neu-seg")
    monkeypatch.setattr(paths, "DEMO_IMAGES", 6)
    index = paths.load_course_dataset()
    assert index.name == "demo" and len(index) == 6
    assert "DEMO dataset" in capsys.readouterr().out
    assert (tmp_path / "data" / "demo" / "train.csv").is_file()
    # figures name the demo data for what it is, and go to their own folder beside the real data's figures
    assert index.title == "synthetic demo with Severstal's shape and class statistics"
    profile = current_profile()
    assert profile.for_dataset(index).figures_dir == profile.figures_dir / "demo"
    real = open_dataset(demo_root)  # the same files read as Kaggle-layout data
    assert profile.for_dataset(real) == profile and real.title == real.name == "severstal"


def test_steelnb_data_is_used(monkeypatch, capsys, demo_root):
    monkeypatch.setenv("STEELNB_DATA", str(demo_root))
    index = paths.load_course_dataset()
    assert len(index) == 12 and "Using the real" in capsys.readouterr().out
    monkeypatch.setenv("STEELNB_DATA", str(demo_root / "missing"))
    with pytest.raises(FileNotFoundError, match="STEELNB_DATA"):
        paths.load_course_dataset()


@pytest.mark.parametrize("name, size", [("smoke", (128, 128)), ("default", (128, 128)), ("full", (256, 256))])
def test_profiles(monkeypatch, name, size):
    monkeypatch.setenv("STEELNB_PROFILE", name)
    profile = current_profile()
    assert profile.name == name and profile.image_size == size
    assert profile.backbone("resnet101") == ("resnet101" if name == "full" else "resnet18")
    monkeypatch.setenv("STEELNB_PROFILE", "huge")
    with pytest.raises(ValueError, match="STEELNB_PROFILE"):
        current_profile()


def test_smoke_split_is_capped_and_native_geometry_scales(monkeypatch, demo_root):
    monkeypatch.setenv("STEELNB_PROFILE", "smoke")
    profile = current_profile()
    index = open_dataset(demo_root)
    split = course_split(index, profile)
    assert sum(map(len, split.values())) <= profile.max_images
    assert native_geometry(index, profile) == ((64, 400), 128)
    index.image_shape = (200, 200)  # NEU-Seg-sized images keep their aspect at the same scale
    assert native_geometry(index, profile) == ((50, 50), 50)


def test_input_size_and_batch_follow_the_data(monkeypatch):
    monkeypatch.setenv("STEELNB_PROFILE", "default")
    profile = current_profile()
    assert profile.input_size((200, 200)) == (128, 128)  # NEU-Seg: the profile's size
    assert profile.input_size((100, 60)) == (96, 48)  # never upsampled; a multiple of the output stride 16
    assert profile.input_size(None) == (128, 128)  # mixed sizes: the profile's
    assert profile.train_config(3129).batch_size == 16
    assert profile.train_config(40).batch_size == 5  # still 8 steps per epoch on a tiny set
    assert profile.train_config(3129).time_budget_s == 16 * 60
    assert profile.train_config(3129, lr=0.5).lr == 0.5 and profile.recipe.lr == 2e-3  # overrides on a copy
    assert profile.train_config(3129, batch_size=8).batch_size == 8  # a smaller batch asked for
    assert profile.train_config(40, batch_size=8).batch_size == 5  # and shrunk like the recipe's
    assert profile.recipe.flip_augment and not TrainConfig().flip_augment  # the CPU recipe's flips; not the paper's
    assert profile.comparison_overrides() == {"time_budget_s": 16 * 60 / 6}
    assert profile.main_job_s == 20 * 60  # the main job's whole command, setup and scoring included
    assert profile.training_length() == ("16 min of training per chapter run (at most 40 epochs; the main job: its "
                                         "20-minute target)")


@pytest.mark.parametrize("value, profile", [("1", "smoke"), ("true", "smoke"), ("yes", "smoke"), ("0", "default"),
                                            ("false", "default")])
def test_smoke_switch_reads_the_usual_words(monkeypatch, value, profile):
    for name in ("STEELNB_PROFILE", "CI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STEELNB_SMOKE", value)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert current_profile().name == profile


def test_smoke_switch_refuses_a_word_it_does_not_know(monkeypatch):
    monkeypatch.delenv("STEELNB_PROFILE", raising=False)
    monkeypatch.setenv("STEELNB_SMOKE", "maybe")
    with pytest.raises(ValueError, match="STEELNB_SMOKE='maybe'"):
        current_profile()


def test_empty_steelnb_data_is_an_error(monkeypatch):
    monkeypatch.setenv("STEELNB_DATA", "")
    with pytest.raises(ValueError, match="STEELNB_DATA is set but empty"):
        paths.real_data_dir()


def test_neu_seg_in_the_course_folder_is_found_without_steelnb_data(monkeypatch, tmp_path):
    monkeypatch.delenv("STEELNB_DATA", raising=False)
    monkeypatch.setattr(paths, "SEVERSTAL_DIR", tmp_path / "data" / "severstal")
    monkeypatch.setattr(paths, "NEU_SEG_DIR", tmp_path / "data" / "neu-seg")
    assert paths.real_data_dir() is None
    (tmp_path / "data" / "neu-seg" / "data_wenjian").mkdir(parents=True)  # where `download neu-seg` puts it
    assert paths.real_data_dir() == tmp_path / "data" / "neu-seg"
