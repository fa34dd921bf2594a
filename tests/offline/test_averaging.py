"""The moving average of weights that `stylize train --ema-decay` samples, exports and ships."""
import pytest
import torch

from stylize.offline.averaging import WeightAverage, trained_weights


def _net() -> torch.nn.Module:
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))  # BatchNorm: an integer buffer too
    torch.nn.init.zeros_(net[0].weight)
    return net


def _set(net, value):
    with torch.no_grad():
        net[0].weight.fill_(value)


def test_the_average_ramps_in_then_moves_by_the_decay():
    net = _net()
    average = WeightAverage(net, decay=0.9)
    _set(net, 1.0)
    average.update(net)  # first update: decay (1 + 1) / (10 + 1), not 0.9, so it follows the weights
    assert average.weights["0.weight"] == pytest.approx(torch.full((2, 2), 9 / 11))
    for _ in range(300):
        average.update(net)
    assert average.weights["0.weight"] == pytest.approx(torch.ones(2, 2), abs=1e-6)
    _set(net, 0.0)
    net[1].num_batches_tracked.fill_(7)
    average.update(net)  # long past the ramp: the plain decay
    assert average.weights["0.weight"] == pytest.approx(torch.full((2, 2), 0.9), abs=1e-6)
    assert average.weights["1.num_batches_tracked"] == 7  # integers are copied, not averaged


def test_applied_swaps_the_average_in_and_the_raw_weights_back():
    net = _net()
    average = WeightAverage(net, decay=0.5)
    _set(net, 2.0)
    with average.applied(net):
        assert torch.equal(net[0].weight, torch.zeros(2, 2))
    assert torch.equal(net[0].weight, torch.full((2, 2), 2.0))


def test_a_saved_average_loads_and_a_checkpoint_stands_for_its_average():
    net = _net()
    average = WeightAverage(net, decay=0.5)
    _set(net, 3.0)
    average.update(net)
    other = WeightAverage(_net(), decay=0.9)
    other.load_state_dict(average.state_dict())
    assert other.updates == 1 and other.decay == 0.9  # the new run's decay wins
    assert torch.equal(other.weights["0.weight"], average.weights["0.weight"])
    raw = net.state_dict()
    assert trained_weights({"model": raw}) is raw
    assert trained_weights({"model": raw, "average": average.state_dict()}) is average.weights
    with pytest.raises(ValueError):
        WeightAverage(net, decay=1.0)
