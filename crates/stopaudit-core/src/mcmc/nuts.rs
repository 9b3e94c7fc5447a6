//! The No-U-Turn sampler (Hoffman & Gelman 2014) in the form Stan uses:
//! multinomial sampling of the trajectory (Betancourt 2017) with biased
//! progressive sampling between subtrees and uniform sampling within them,
//! the generalised no-U-turn criterion with the extra checks across subtree
//! boundaries (Stan 2.26), a diagonal metric, and Stan's warmup: dual
//! averaging of the step size towards a target acceptance statistic and the
//! metric estimated in doubling windows (75-draw initial buffer, 25-draw
//! first window, 50-draw terminal buffer), with the step size restarted after
//! each window.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::LogDensity;
use super::metric::{EarlyDiagonal, Metric, MetricKind, WindowEstimator, dot};

/// How a chain is run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NutsSettings {
    /// Warmup iterations (adaptation; not kept).
    pub warmup: usize,
    /// Draws kept after warmup.
    pub draws: usize,
    /// Target of the mean acceptance statistic (Stan's `adapt_delta`).
    pub target_accept: f64,
    /// Largest tree depth (at most 2^depth leapfrog steps per draw).
    pub max_depth: u32,
    /// The metric estimated during warmup.
    pub metric: MetricKind,
}

impl Default for NutsSettings {
    fn default() -> Self {
        NutsSettings {
            warmup: 1000,
            draws: 1000,
            target_accept: 0.8,
            max_depth: 10,
            metric: MetricKind::default(),
        }
    }
}

/// One chain's output.
#[derive(Debug, Clone)]
pub struct ChainDraws {
    /// Dimension of the parameter vector.
    pub dim: usize,
    /// Kept draws, row-major (`draws × dim`, unconstrained parameters).
    pub positions: Vec<f64>,
    /// Post-warmup transitions that ended in a divergence.
    pub divergences: usize,
    /// Post-warmup transitions that stopped at the maximum tree depth.
    pub max_depth_hits: usize,
    /// Leapfrog steps during warmup: the work of adaptation.
    pub warmup_leapfrog_steps: u64,
    /// Leapfrog steps of the kept draws.
    pub leapfrog_steps: u64,
    /// Step size after adaptation.
    pub step_size: f64,
    /// Mean acceptance statistic of the kept draws.
    pub mean_accept: f64,
}

impl ChainDraws {
    /// Number of kept draws.
    pub fn len(&self) -> usize {
        self.positions.len() / self.dim.max(1)
    }

    /// Whether no draw was kept.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Draw `i`.
    pub fn draw(&self, i: usize) -> &[f64] {
        &self.positions[i * self.dim..(i + 1) * self.dim]
    }
}

/// A point of phase space with what the tree needs of it.
#[derive(Debug, Clone)]
struct Point {
    q: Vec<f64>,
    p: Vec<f64>,
    /// M⁻¹ p: the velocity.
    v: Vec<f64>,
    grad: Vec<f64>,
    /// M⁻¹ ∇ ln p.
    v_grad: Vec<f64>,
    log_density: f64,
}

impl Point {
    fn hamiltonian(&self) -> f64 {
        -self.log_density + 0.5 * dot(&self.p, &self.v)
    }
}

fn log_add(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// A subtree of the trajectory: its two ends in time order, its momentum sum,
/// its multinomial weight and the point it proposes.
struct Tree {
    early: Point,
    late: Point,
    rho: Vec<f64>,
    log_weight: f64,
    proposal: Point,
}

/// Whether the span from `early` to `late` with momentum sum `rho` keeps
/// going: the generalised no-U-turn criterion (Betancourt 2017).
fn keeps_going(early_v: &[f64], late_v: &[f64], rho: &[f64]) -> bool {
    dot(early_v, rho) > 0.0 && dot(late_v, rho) > 0.0
}

/// Joins two adjacent subtrees (`a` before `b` in time) and checks the
/// criterion over the whole and across the joint (Stan's extra checks).
fn joins_without_u_turn(a: &Tree, b: &Tree, rho: &[f64]) -> bool {
    if !keeps_going(&a.early.v, &b.late.v, rho) {
        return false;
    }
    let rho_a_ext: Vec<f64> = a.rho.iter().zip(&b.early.p).map(|(x, y)| x + y).collect();
    if !keeps_going(&a.early.v, &b.early.v, &rho_a_ext) {
        return false;
    }
    let rho_b_ext: Vec<f64> = b.rho.iter().zip(&a.late.p).map(|(x, y)| x + y).collect();
    keeps_going(&a.late.v, &b.late.v, &rho_b_ext)
}

/// What one transition reports.
struct Transition {
    accept_stat: f64,
    divergent: bool,
    depth: u32,
    leapfrogs: u64,
}

/// A sampler for one chain.
pub(crate) struct Nuts<'m, M: LogDensity> {
    model: &'m M,
    rng: ChaCha8Rng,
    /// The inverse metric (the posterior covariance, once adapted).
    metric: Metric,
    step_size: f64,
    max_depth: u32,
    current: Point,
}

/// Tree building state shared down the recursion of one transition.
struct Build {
    h0: f64,
    accept_sum: f64,
    leapfrogs: u64,
    divergent: bool,
}

impl<'m, M: LogDensity> Nuts<'m, M> {
    /// A sampler starting at `init`, which must have a finite log density.
    pub fn new(model: &'m M, init: Vec<f64>, seed: u64, stream: u64) -> Option<Self> {
        let dim = model.dim();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        let mut grad = vec![0.0; dim];
        let log_density = model.log_density(&init, &mut grad);
        if !log_density.is_finite() {
            return None;
        }
        Some(Nuts {
            model,
            rng,
            metric: Metric::unit(dim),
            step_size: 1.0,
            max_depth: 10,
            current: Point {
                q: init,
                p: vec![0.0; dim],
                v: vec![0.0; dim],
                // The unit metric's M⁻¹ ∇ is ∇.
                v_grad: grad.clone(),
                grad,
                log_density,
            },
        })
    }

    /// One leapfrog step. Velocities follow from M⁻¹ ∇ (kept with each
    /// point) by linearity, so a step costs one product with the metric.
    fn leapfrog(&self, from: &Point, eps: f64) -> Point {
        let half = 0.5 * eps;
        let mut p: Vec<f64> = from
            .p
            .iter()
            .zip(&from.grad)
            .map(|(p, g)| p + half * g)
            .collect();
        let mut v: Vec<f64> = from
            .v
            .iter()
            .zip(&from.v_grad)
            .map(|(v, g)| v + half * g)
            .collect();
        let q: Vec<f64> = from.q.iter().zip(&v).map(|(q, v)| q + eps * v).collect();
        let mut grad = vec![0.0; q.len()];
        let log_density = self.model.log_density(&q, &mut grad);
        let v_grad = self.metric.velocity(&grad);
        for (p, g) in p.iter_mut().zip(&grad) {
            *p += half * g;
        }
        for (v, g) in v.iter_mut().zip(&v_grad) {
            *v += half * g;
        }
        Point {
            q,
            p,
            v,
            grad,
            v_grad,
            log_density,
        }
    }

    /// Changes the metric; the current point's M⁻¹ ∇ follows.
    fn set_metric(&mut self, metric: Metric) {
        self.metric = metric;
        self.current.v_grad = self.metric.velocity(&self.current.grad);
    }

    fn refresh_momentum(&mut self) {
        self.current.p = self.metric.sample_momentum(&mut self.rng);
        self.current.v = self.metric.velocity(&self.current.p);
    }

    /// Builds a subtree of 2^depth steps from `from` in direction `dir`;
    /// `None` when it diverged or turned back on itself.
    fn build_tree(&mut self, from: &Point, dir: f64, depth: u32, b: &mut Build) -> Option<Tree> {
        if depth == 0 {
            let point = self.leapfrog(from, dir * self.step_size);
            b.leapfrogs += 1;
            let h = point.hamiltonian();
            let h = if h.is_nan() { f64::INFINITY } else { h };
            let delta = b.h0 - h;
            b.accept_sum += delta.exp().min(1.0);
            if -delta > 1000.0 {
                b.divergent = true;
                return None;
            }
            return Some(Tree {
                rho: point.p.clone(),
                early: point.clone(),
                late: point.clone(),
                log_weight: delta,
                proposal: point,
            });
        }
        let inner = self.build_tree(from, dir, depth - 1, b)?;
        let edge = if dir > 0.0 { &inner.late } else { &inner.early };
        let edge = edge.clone();
        let outer = self.build_tree(&edge, dir, depth - 1, b)?;
        let log_weight = log_add(inner.log_weight, outer.log_weight);
        // Uniform progressive sampling within a subtree.
        let take_outer = self.rng.random::<f64>() < (outer.log_weight - log_weight).exp();
        let rho: Vec<f64> = inner
            .rho
            .iter()
            .zip(&outer.rho)
            .map(|(x, y)| x + y)
            .collect();
        let (a, z) = if dir > 0.0 {
            (inner, outer)
        } else {
            (outer, inner)
        };
        if !joins_without_u_turn(&a, &z, &rho) {
            return None;
        }
        let proposal = match (take_outer, dir > 0.0) {
            (true, true) | (false, false) => z.proposal,
            _ => a.proposal,
        };
        Some(Tree {
            early: a.early,
            late: z.late,
            rho,
            log_weight,
            proposal,
        })
    }

    fn transition(&mut self) -> Transition {
        self.refresh_momentum();
        let start = self.current.clone();
        let mut b = Build {
            h0: start.hamiltonian(),
            accept_sum: 0.0,
            leapfrogs: 0,
            divergent: false,
        };
        let mut tree = Tree {
            rho: start.p.clone(),
            early: start.clone(),
            late: start.clone(),
            log_weight: 0.0,
            proposal: start,
        };
        let mut depth = 0;
        while depth < self.max_depth {
            let dir = if self.rng.random::<bool>() { 1.0 } else { -1.0 };
            let from = if dir > 0.0 {
                tree.late.clone()
            } else {
                tree.early.clone()
            };
            let sub = self.build_tree(&from, dir, depth, &mut b);
            depth += 1;
            let Some(sub) = sub else { break };
            // Biased progressive sampling: prefer the new subtree.
            let take_new = self.rng.random::<f64>() < (sub.log_weight - tree.log_weight).exp();
            let log_weight = log_add(tree.log_weight, sub.log_weight);
            let rho: Vec<f64> = tree.rho.iter().zip(&sub.rho).map(|(x, y)| x + y).collect();
            let keep_going = if dir > 0.0 {
                joins_without_u_turn(&tree, &sub, &rho)
            } else {
                joins_without_u_turn(&sub, &tree, &rho)
            };
            let proposal = if take_new {
                sub.proposal
            } else {
                tree.proposal
            };
            let (early, late) = if dir > 0.0 {
                (tree.early, sub.late)
            } else {
                (sub.early, tree.late)
            };
            tree = Tree {
                early,
                late,
                rho,
                log_weight,
                proposal,
            };
            if !keep_going {
                break;
            }
        }
        self.current = tree.proposal;
        Transition {
            accept_stat: b.accept_sum / b.leapfrogs.max(1) as f64,
            divergent: b.divergent,
            depth,
            leapfrogs: b.leapfrogs,
        }
    }

    /// Stan's heuristic for a first step size: double or halve until one
    /// leapfrog step's acceptance probability crosses 0.8.
    fn initial_step_size(&mut self) {
        self.refresh_momentum();
        let start = self.current.clone();
        let h0 = start.hamiltonian();
        let delta_h = |s: &Self| {
            let h = s.leapfrog(&start, s.step_size).hamiltonian();
            let d = h0 - h;
            if d.is_nan() { f64::NEG_INFINITY } else { d }
        };
        let first = delta_h(self);
        let up = first > 0.8f64.ln();
        for _ in 0..100 {
            self.step_size = if up {
                self.step_size * 2.0
            } else {
                self.step_size / 2.0
            };
            let d = delta_h(self);
            if (up && d <= 0.8f64.ln()) || (!up && d > 0.8f64.ln()) {
                break;
            }
        }
        if up {
            self.step_size /= 2.0;
        }
    }

    /// Runs warmup and sampling.
    pub fn run(mut self, settings: &NutsSettings) -> ChainDraws {
        self.max_depth = settings.max_depth;
        let dim = self.current.q.len();
        let windows = AdaptationWindows::new(settings.warmup);
        let mut early = EarlyDiagonal::new(dim);
        if settings.warmup > 0 {
            self.set_metric(EarlyDiagonal::from_gradient(&self.current.grad));
        }
        self.initial_step_size();
        let mut dual = DualAveraging::new(self.step_size, settings.target_accept);
        let mut window = WindowEstimator::new(settings.metric, dim);
        let mut leapfrog_steps = 0;
        for i in 0..settings.warmup {
            let t = self.transition();
            super::iteration_done();
            leapfrog_steps += t.leapfrogs;
            self.step_size = dual.update(t.accept_stat);
            if i < windows.init_buffer {
                early.add(&self.current.q, &self.current.grad);
                if let Some(metric) = early.metric() {
                    self.set_metric(metric);
                }
            }
            if windows.in_slow_window(i) {
                window.add(&self.current.q);
                if windows.ends_slow_window(i) {
                    self.set_metric(window.metric());
                    window = WindowEstimator::new(settings.metric, dim);
                    self.initial_step_size();
                    dual = DualAveraging::new(self.step_size, settings.target_accept);
                }
            }
        }
        if settings.warmup > 0 {
            self.step_size = dual.final_step_size();
        }
        let warmup_leapfrog_steps = std::mem::take(&mut leapfrog_steps);
        let mut positions = Vec::with_capacity(settings.draws * dim);
        let (mut divergences, mut max_depth_hits, mut accept) = (0, 0, 0.0);
        for _ in 0..settings.draws {
            let t = self.transition();
            super::iteration_done();
            leapfrog_steps += t.leapfrogs;
            divergences += usize::from(t.divergent);
            max_depth_hits += usize::from(t.depth >= self.max_depth && !t.divergent);
            accept += t.accept_stat;
            positions.extend_from_slice(&self.current.q);
        }
        ChainDraws {
            dim,
            positions,
            divergences,
            max_depth_hits,
            warmup_leapfrog_steps,
            leapfrog_steps,
            step_size: self.step_size,
            mean_accept: accept / settings.draws.max(1) as f64,
        }
    }
}

/// Stan's warmup schedule: a fast initial buffer, slow windows that double
/// in length (the last one stretched to the terminal buffer), and a fast
/// terminal buffer.
struct AdaptationWindows {
    init_buffer: usize,
    /// Last iteration (inclusive) of each slow window.
    ends: Vec<usize>,
}

impl AdaptationWindows {
    fn new(warmup: usize) -> Self {
        let (init_buffer, term_buffer, base) = if warmup < 20 {
            (warmup, 0, 0)
        } else if warmup < 150 {
            // Stan's fallback for short warmups: 15% / 75% / 10%.
            let init = warmup * 15 / 100;
            let term = warmup / 10;
            (init, term, warmup - init - term)
        } else {
            (75, 50, 25)
        };
        let mut ends = Vec::new();
        if base > 0 {
            let slow_end = warmup - term_buffer;
            let mut start = init_buffer;
            let mut size = base;
            while start < slow_end {
                let mut end = start + size;
                // Stretch the last window rather than leave a stub.
                if end + 2 * size > slow_end {
                    end = slow_end;
                }
                ends.push(end - 1);
                start = end;
                size *= 2;
            }
        }
        AdaptationWindows { init_buffer, ends }
    }

    fn in_slow_window(&self, i: usize) -> bool {
        i >= self.init_buffer && self.ends.last().is_some_and(|&last| i <= last)
    }

    fn ends_slow_window(&self, i: usize) -> bool {
        self.ends.contains(&i)
    }
}

/// Nesterov dual averaging of the log step size (Hoffman & Gelman 2014,
/// with Stan's constants γ = 0.05, t₀ = 10, κ = 0.75, μ = ln(10 ε₀)).
struct DualAveraging {
    mu: f64,
    target: f64,
    counter: f64,
    s_bar: f64,
    x_bar: f64,
}

impl DualAveraging {
    fn new(step_size: f64, target: f64) -> Self {
        DualAveraging {
            mu: (10.0 * step_size).ln(),
            target,
            counter: 0.0,
            s_bar: 0.0,
            x_bar: 0.0,
        }
    }

    fn update(&mut self, accept_stat: f64) -> f64 {
        const GAMMA: f64 = 0.05;
        const T0: f64 = 10.0;
        const KAPPA: f64 = 0.75;
        self.counter += 1.0;
        let accept_stat = accept_stat.min(1.0);
        let eta = 1.0 / (self.counter + T0);
        self.s_bar = (1.0 - eta) * self.s_bar + eta * (self.target - accept_stat);
        let x = self.mu - self.s_bar * self.counter.sqrt() / GAMMA;
        let x_eta = self.counter.powf(-KAPPA);
        self.x_bar = x_eta * x + (1.0 - x_eta) * self.x_bar;
        x.exp()
    }

    fn final_step_size(&self) -> f64 {
        self.x_bar.exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_stans_schedule() {
        let w = AdaptationWindows::new(1000);
        // 75 + 25, 50, 100, 200, then the rest up to 950.
        assert_eq!(w.ends, vec![99, 149, 249, 449, 949]);
        assert!(!w.in_slow_window(74));
        assert!(w.in_slow_window(75));
        assert!(!w.in_slow_window(950));
        let short = AdaptationWindows::new(100);
        assert_eq!(short.init_buffer, 15);
        assert_eq!(short.ends.last(), Some(&89));
        assert!(AdaptationWindows::new(10).ends.is_empty());
    }
}
