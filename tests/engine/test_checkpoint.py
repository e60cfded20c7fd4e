import pickle

import pytest
import torch

from augcn_pyg.core.errors import InputError
from augcn_pyg.engine.checkpoint import load_checkpoint, save_checkpoint


def test_round_trip_with_optimizer_and_rng(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model.state_dict(), {"epoch": 3, "history": [{"loss": 1.5}]}, opt.state_dict(),
                    {"torch": torch.get_rng_state()})
    ck = load_checkpoint(path)
    assert ck.doc["epoch"] == 3 and ck.doc["history"] == [{"loss": 1.5}]
    assert all(torch.equal(ck.model[k], v) for k, v in model.state_dict().items())
    assert torch.equal(ck.rng["torch"], torch.get_rng_state())
    opt2 = torch.optim.SGD(torch.nn.Linear(3, 2).parameters(), lr=0.5, momentum=0.9)
    opt2.load_state_dict(ck.optimizer_state())
    assert opt2.param_groups[0]["lr"] == 0.1
    for a, b in zip(opt.state.values(), opt2.state.values()):
        assert torch.equal(a["momentum_buffer"], b["momentum_buffer"])


class Payload:
    def __reduce__(self):
        return (print, ("unpickled!",))


@pytest.mark.parametrize("writer", ["torch.save", "pickle", "truncated", "empty", "foreign safetensors"])
def test_pickles_and_damaged_files_are_refused(tmp_path, writer, capsys):
    path = tmp_path / "c.safetensors"
    if writer == "torch.save":
        torch.save({"w": torch.zeros(2), "evil": Payload()}, path)
    elif writer == "pickle":
        path.write_bytes(pickle.dumps(Payload()))
    elif writer == "truncated":
        save_checkpoint(path, {"w": torch.zeros(100)}, {"epoch": 1})
        path.write_bytes(path.read_bytes()[:-50])
    elif writer == "empty":
        path.write_bytes(b"")
    else:
        from safetensors.torch import save_file

        save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(InputError, match="not a|not an"):
        load_checkpoint(path)
    assert "unpickled!" not in capsys.readouterr().out


def test_missing_checkpoint(tmp_path):
    with pytest.raises(InputError, match="no checkpoint"):
        load_checkpoint(tmp_path / "none.safetensors")
