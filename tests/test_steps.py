"""The one step function that the time budget, the benchmarks and the speed tables time."""
import torch

from steelnb.training.timing import model_step, time_calls


def test_time_calls_runs_warmup_untimed_then_times_each_step():
    calls = []
    times = time_calls(lambda: calls.append(1), steps=3, warmup=2, device=torch.device("cpu"))
    assert len(calls) == 5 and times.shape == (3,) and (times >= 0).all()


def test_training_step_updates_the_weights_and_a_forward_does_not():
    torch.manual_seed(0)
    model = torch.nn.Conv2d(1, 2, 1)
    images, target = torch.rand(2, 1, 4, 4), torch.randint(0, 2, (2, 4, 4))
    before = model.weight.detach().clone()
    model_step(model, images, target)()  # no optimizer: an inference forward
    assert torch.equal(model.weight, before) and model.weight.grad is None
    model_step(model, images, target, torch.optim.SGD(model.parameters(), lr=0.5))()
    assert not torch.equal(model.weight, before)


def test_measuring_speed_leaves_the_model_and_the_rng_as_they_were():
    from steelnb.training.timing import images_per_second

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.BatchNorm2d(2)).eval()
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    rng = torch.get_rng_state()
    assert images_per_second(model, (8, 8), batch_size=2, steps=2, train=True) > 0
    assert not model.training and torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(model.state_dict()[name], tensor) for name, tensor in before.items())  # BN stats too
