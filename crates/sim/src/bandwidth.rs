//! Sharing link capacity for one step: each peer's upload is split fairly
//! between the connections it sends on, each peer's download between the
//! connections it receives on (max-min fairness, found by a few rounds of
//! water-filling: senders offer, receivers grant, leftovers go round again).

/// A connection direction with bytes waiting this step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flow {
    /// Sending peer.
    pub sender: usize,
    /// Receiving peer.
    pub receiver: usize,
    /// Bytes it could send.
    pub want: f64,
}

/// Rounds of offer/grant: each one gives leftovers of saturated peers to
/// flows that can still use them; three get within a percent of max-min.
const ROUNDS: usize = 3;

/// Scratch space for [`Allocator::allocate`], kept between steps so a step
/// allocates nothing.
#[derive(Default)]
pub(crate) struct Allocator {
    up_left: Vec<f64>,
    down_left: Vec<f64>,
    got: Vec<f64>,
    open: Vec<bool>,
    by_sender: Vec<Vec<usize>>,
    by_receiver: Vec<Vec<usize>>,
    offer: Vec<f64>,
    grant: Vec<f64>,
    wants: Vec<(f64, usize)>,
}

/// Empties every list and keeps `n` of them.
fn reset_lists(lists: &mut Vec<Vec<usize>>, n: usize) {
    lists.iter_mut().for_each(Vec::clear);
    lists.resize_with(n, Vec::new);
}

/// Makes `v` `n` copies of `x`.
fn fill<T: Copy>(v: &mut Vec<T>, n: usize, x: T) {
    v.clear();
    v.resize(n, x);
}

impl Allocator {
    /// Bytes each flow may move, given each peer's upload (`up`) and
    /// download (`down`) budget for the step (`f64::INFINITY` for
    /// unlimited).
    pub(crate) fn allocate(&mut self, flows: &[Flow], up: &[f64], down: &[f64]) -> &[f64] {
        let Allocator {
            up_left,
            down_left,
            got,
            open,
            by_sender,
            by_receiver,
            offer,
            grant,
            wants,
        } = self;
        up_left.clear();
        up_left.extend_from_slice(up);
        down_left.clear();
        down_left.extend_from_slice(down);
        fill(got, flows.len(), 0.0);
        fill(open, flows.len(), true);
        reset_lists(by_sender, up.len());
        reset_lists(by_receiver, down.len());
        for (i, f) in flows.iter().enumerate() {
            if let Some(list) = by_sender.get_mut(f.sender) {
                list.push(i);
            }
            if let Some(list) = by_receiver.get_mut(f.receiver) {
                list.push(i);
            }
        }
        fill(offer, flows.len(), 0.0);
        for _ in 0..ROUNDS {
            offer.iter_mut().for_each(|o| *o = 0.0);
            for (sender, list) in by_sender.iter().enumerate() {
                let budget = up_left.get(sender).copied().unwrap_or(0.0);
                let need = |i: usize| match (flows.get(i), got.get(i), open.get(i)) {
                    (Some(f), Some(g), Some(true)) => (f.want - g).max(0.0),
                    _ => 0.0,
                };
                water_fill(list, budget, need, offer, wants);
            }
            fill(grant, flows.len(), 0.0);
            for (receiver, list) in by_receiver.iter().enumerate() {
                let budget = down_left.get(receiver).copied().unwrap_or(0.0);
                let need = |i: usize| offer.get(i).copied().unwrap_or(0.0);
                water_fill(list, budget, need, grant, wants);
            }
            let mut moved = false;
            for (i, f) in flows.iter().enumerate() {
                let (Some(g), Some(o)) = (grant.get(i).copied(), offer.get(i).copied()) else {
                    continue;
                };
                if g <= 0.0 && o <= 0.0 {
                    continue;
                }
                moved |= g > 0.0;
                if let Some(total) = got.get_mut(i) {
                    *total += g;
                    // Receiver-limited, or satisfied: nothing more to give it.
                    if g + 1e-9 < o || *total + 1e-9 >= f.want {
                        if let Some(flag) = open.get_mut(i) {
                            *flag = false;
                        }
                    }
                }
                if let Some(u) = up_left.get_mut(f.sender) {
                    *u -= g;
                }
                if let Some(d) = down_left.get_mut(f.receiver) {
                    *d -= g;
                }
            }
            if !moved {
                break;
            }
        }
        got
    }
}

/// Splits `budget` among `members` so nobody gets more than `need(i)` and
/// the rest share equally; adds the shares to `out`. `wants` is scratch.
fn water_fill(
    members: &[usize],
    budget: f64,
    need: impl Fn(usize) -> f64,
    out: &mut [f64],
    wants: &mut Vec<(f64, usize)>,
) {
    if members.is_empty() || budget <= 0.0 {
        return;
    }
    wants.clear();
    wants.extend(
        members
            .iter()
            .map(|&i| (need(i), i))
            .filter(|(n, _)| *n > 0.0),
    );
    if wants.is_empty() {
        return;
    }
    let most = wants.iter().fold(0.0_f64, |m, w| m.max(w.0));
    if most <= budget / wants.len() as f64 * (1.0 - 1e-6) {
        // Everybody's need fits in an equal share (with a margin far above
        // rounding): the loop below would give each exactly its need, in
        // any order, so the sort is skipped.
        for &(n, i) in wants.iter() {
            if let Some(slot) = out.get_mut(i) {
                *slot += n;
            }
        }
        return;
    }
    // The index breaks ties, so an unstable sort gives the stable order.
    wants.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut left = budget;
    let mut k = wants.len();
    for &(n, i) in wants.iter() {
        let give = n.min(left / k as f64);
        left -= give;
        k -= 1;
        if let Some(slot) = out.get_mut(i) {
            *slot += give;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allocate(flows: &[Flow], up: &[f64], down: &[f64]) -> Vec<f64> {
        Allocator::default().allocate(flows, up, down).to_vec()
    }

    fn flow(sender: usize, receiver: usize, want: f64) -> Flow {
        Flow {
            sender,
            receiver,
            want,
        }
    }

    #[test]
    fn upload_is_shared_equally() {
        let flows = [flow(0, 1, 100.0), flow(0, 2, 100.0)];
        let got = allocate(&flows, &[60.0, 0.0, 0.0], &[f64::INFINITY; 3]);
        assert_eq!(got, [30.0, 30.0]);
    }

    #[test]
    fn a_small_flow_leaves_the_rest_to_others() {
        let flows = [flow(0, 1, 10.0), flow(0, 2, 100.0)];
        let got = allocate(&flows, &[60.0, 0.0, 0.0], &[f64::INFINITY; 3]);
        assert_eq!(got, [10.0, 50.0]);
    }

    #[test]
    fn a_slow_receiver_frees_upload_for_others() {
        // Peer 1 can take only 10; peer 2 gets the rest of 0's upload.
        let flows = [flow(0, 1, 100.0), flow(0, 2, 100.0)];
        let got = allocate(&flows, &[60.0, 0.0, 0.0], &[0.0, 10.0, f64::INFINITY]);
        assert!((got[0] - 10.0).abs() < 1e-9);
        assert!((got[1] - 50.0).abs() < 1e-9, "{got:?}");
    }

    #[test]
    fn download_is_shared_between_senders() {
        let flows = [flow(0, 2, 100.0), flow(1, 2, 100.0)];
        let got = allocate(
            &flows,
            &[f64::INFINITY, f64::INFINITY, 0.0],
            &[0.0, 0.0, 50.0],
        );
        assert_eq!(got, [25.0, 25.0]);
    }

    #[test]
    fn unlimited_links_move_everything() {
        let flows = [flow(0, 1, 7.0)];
        let got = allocate(&flows, &[f64::INFINITY; 2], &[f64::INFINITY; 2]);
        assert_eq!(got, [7.0]);
    }
}
