"""The weighted loss as pure tensor functions, checked against numbers worked out by hand."""

import pytest
import torch

from wlf import experiments
from wlf.training import loss as weighted_loss

# Three examples of variant "accept", gamma 4, with known per-token answer losses:
#   A (Accept, w=4): [1.0, 2.0]        sum 3.0, n 2
#   B (Reject, w=1): [0.5, 0.5, 1.0]   sum 2.0, n 3
#   C (Reject, w=1): [3.0]             sum 3.0, n 1
# step_token_weighted = (4*3 + 2 + 3) / (4*2 + 3 + 1) = 17 / 12;  mean = 17 / 6;  unweighted = 8 / 6
PER_TOKEN_LOSS = torch.tensor([[1.0, 2.0, 0.0], [0.5, 0.5, 1.0], [3.0, 0.0, 0.0]])
LABEL_MASK = torch.tensor([[1, 1, 0], [1, 1, 1], [1, 0, 0]], dtype=torch.bool)
LABELS = ["Accept", "Reject", "Reject"]


def token_weights(weights):
    return torch.tensor(weights)[:, None].expand_as(PER_TOKEN_LOSS)


def test_class_weights_put_gamma_on_the_variants_class():
    assert experiments.class_weights("accept", 4.0) == {"Accept": 4.0, "Reject": 1.0}
    assert experiments.class_weights("reject", 2.5) == {"Accept": 1.0, "Reject": 2.5}
    assert experiments.class_weights("baseline", 1.0) == {"Accept": 1.0, "Reject": 1.0}


def test_example_weights_follow_labels():
    assert experiments.example_weights(LABELS, "accept", 4.0) == [4.0, 1.0, 1.0]
    assert experiments.example_weights(LABELS, "reject", 8.0) == [1.0, 8.0, 8.0]


def test_example_weights_reject_an_unknown_label_by_name():
    with pytest.raises(ValueError, match=r"labels \['Maybe'\] are not one of"):
        experiments.example_weights(["Accept", "Maybe"], "accept", 2.0)


def test_step_token_weighted_loss_matches_hand_computation():
    weights = token_weights(experiments.example_weights(LABELS, "accept", 4.0))
    loss = weighted_loss.weighted_loss(PER_TOKEN_LOSS, weights, LABEL_MASK, "step_token_weighted")
    assert loss.item() == pytest.approx(17 / 12)


def test_mean_reduction_divides_the_weighted_sum_by_the_token_count():
    weights = token_weights(experiments.example_weights(LABELS, "accept", 4.0))
    loss = weighted_loss.weighted_loss(PER_TOKEN_LOSS, weights, LABEL_MASK, "mean")
    assert loss.item() == pytest.approx(17 / 6)


def test_gamma_one_gives_the_plain_token_mean_under_both_reductions():
    weights = token_weights(experiments.example_weights(LABELS, "baseline", 1.0))
    for reduction in weighted_loss.REDUCTIONS:
        assert weighted_loss.weighted_loss(
            PER_TOKEN_LOSS, weights, LABEL_MASK, reduction
        ).item() == pytest.approx(8 / 6)


def test_micro_batch_losses_over_the_step_denominator_add_up_to_the_step_loss():
    weights = token_weights(experiments.example_weights(LABELS, "accept", 4.0))
    denominator = weighted_loss.step_denominator(weights, LABEL_MASK, "step_token_weighted")
    assert denominator.item() == 12.0
    # micro-batch 1 = [A], micro-batch 2 = [B, C]: 12/12 + 5/12
    parts = [
        weighted_loss.safe_divide(
            weighted_loss.weighted_loss_sum(PER_TOKEN_LOSS[rows], weights[rows]), denominator
        )
        for rows in (slice(0, 1), slice(1, 3))
    ]
    assert [part.item() for part in parts] == pytest.approx([12 / 12, 5 / 12])
    assert sum(parts).item() == pytest.approx(17 / 12)


def test_per_micro_batch_normalisation_would_give_a_different_loss():
    # Why the denominator is the step's: averaging per-micro-batch means weighs A's tokens differently.
    weights = token_weights(experiments.example_weights(LABELS, "accept", 4.0))
    per_batch = [
        weighted_loss.weighted_loss(PER_TOKEN_LOSS[rows], weights[rows], LABEL_MASK[rows])
        for rows in (slice(0, 1), slice(1, 3))
    ]
    assert (sum(per_batch) / 2).item() == pytest.approx((12 / 8 + 5 / 4) / 2)
    assert (sum(per_batch) / 2).item() != pytest.approx(17 / 12)


def test_empty_batch_has_zero_loss_not_nan():
    zeros = torch.zeros(2, 3)
    loss = weighted_loss.weighted_loss(zeros, zeros, zeros.bool())
    assert loss.item() == 0.0


def test_unknown_reduction_is_named():
    with pytest.raises(ValueError, match="loss_reduction = 'sum' is not one of step_token_weighted, mean"):
        weighted_loss.step_denominator(PER_TOKEN_LOSS, LABEL_MASK, "sum")


def test_token_weights_repeat_each_example_weight_and_pad_with_zero():
    out = weighted_loss.token_weights_for([4.0, 1.0], [3, 2], padding_free=False, padded_length=4)
    assert out.tolist() == [[4.0, 4.0, 4.0, 0.0], [1.0, 1.0, 0.0, 0.0]]


def test_token_weights_concatenate_examples_when_padding_free():
    out = weighted_loss.token_weights_for([4.0, 1.0], [3, 2], padding_free=True, padded_length=6)
    assert out.tolist() == [[4.0, 4.0, 4.0, 1.0, 1.0, 0.0]]


def test_token_weights_refuse_a_row_longer_than_the_batch():
    with pytest.raises(ValueError, match="example of 5 tokens does not fit the padded length 4"):
        weighted_loss.token_weights_for([1.0, 1.0], [3, 2], padding_free=True, padded_length=4)


def test_shift_aligns_position_j_with_the_label_of_j_plus_one():
    assert weighted_loss.shift_to_predictions(torch.tensor([[1, 2, 3]])).tolist() == [[2, 3]]
