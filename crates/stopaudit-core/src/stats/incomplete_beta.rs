//! The regularised incomplete beta function I_x(a, b) with its derivatives
//! in x, a and b, for gradient-based samplers (the threshold test).
//!
//! The value comes from the continued fraction of Numerical Recipes §6.4
//! (evaluated with the modified Lentz method), on whichever side of the
//! distribution converges fast: I_x(a, b) directly when x < (a+1)/(a+b+2),
//! otherwise through the symmetry I_x(a, b) = 1 − I_{1−x}(b, a). Both the value
//! and its complement are returned, each computed without cancellation.
//!
//! The shape derivatives are forward-mode derivatives of the same evaluation:
//! every quantity carries its partial derivatives in (a, b), the prefactor
//! x^a (1−x)^b / (a B(a, b)) through digamma, and the continued fraction
//! through its partial convergents, iterated until the derivatives have
//! converged as well as the value (the convergents are rational in a and b
//! and converge uniformly, so their derivatives converge to the derivative of
//! the limit). The x derivative is the beta density. Checked against central
//! finite differences of statrs' `beta_reg` in the tests below.

/// A number with its partial derivatives in the two shape parameters.
#[derive(Debug, Clone, Copy)]
struct Dual {
    v: f64,
    da: f64,
    db: f64,
}

impl Dual {
    fn constant(v: f64) -> Self {
        Dual {
            v,
            da: 0.0,
            db: 0.0,
        }
    }
    fn add(self, o: Dual) -> Dual {
        Dual {
            v: self.v + o.v,
            da: self.da + o.da,
            db: self.db + o.db,
        }
    }
    fn mul(self, o: Dual) -> Dual {
        Dual {
            v: self.v * o.v,
            da: self.da * o.v + self.v * o.da,
            db: self.db * o.v + self.v * o.db,
        }
    }
    fn scale(self, k: f64) -> Dual {
        Dual {
            v: self.v * k,
            da: self.da * k,
            db: self.db * k,
        }
    }
}

/// I_x(a, b), its complement and its partial derivatives; also the
/// prefactor x^a (1−x)^b / (a B(a, b)) that relates I_x(a+1, b) to I_x(a, b).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IncompleteBeta {
    /// I_x(a, b), the beta distribution function at x.
    pub value: f64,
    /// 1 − I_x(a, b), computed directly (accurate when `value` is near 1).
    pub complement: f64,
    /// ∂I/∂x: the beta density at x.
    pub d_x: f64,
    /// ∂I/∂a.
    pub d_a: f64,
    /// ∂I/∂b.
    pub d_b: f64,
    /// ln of x^a (1−x)^b / (a B(a, b)); I_x(a+1, b) = I_x(a, b) − exp(this).
    pub ln_front: f64,
    /// ∂ ln_front / ∂x.
    pub ln_front_d_x: f64,
    /// ∂ ln_front / ∂a.
    pub ln_front_d_a: f64,
    /// ∂ ln_front / ∂b.
    pub ln_front_d_b: f64,
}

const EPS: f64 = 1e-14;
/// Successive derivatives agree to this (their rounding noise is larger).
const EPS_DERIVATIVE: f64 = 1e-11;
const MAX_TERMS: usize = 10_000;

/// Numerators and denominators of successive convergents of
/// 1/(1 + d₁/(1 + d₂/(1 + …))): (A_{k−1}, A_k) and (B_{k−1}, B_k).
struct Convergents {
    a_prev: Dual,
    a_cur: Dual,
    b_prev: Dual,
    b_cur: Dual,
}

impl Convergents {
    /// The first convergent, 1/1.
    fn new() -> Self {
        Convergents {
            a_prev: Dual::constant(0.0),
            a_cur: Dual::constant(1.0),
            b_prev: Dual::constant(1.0),
            b_cur: Dual::constant(1.0),
        }
    }

    /// Takes in the next coefficient: X_{k+1} = X_k + d X_{k−1}.
    fn push(&mut self, d: Dual) {
        let a_next = self.a_cur.add(d.mul(self.a_prev));
        let b_next = self.b_cur.add(d.mul(self.b_prev));
        self.a_prev = self.a_cur;
        self.b_prev = self.b_cur;
        self.a_cur = a_next;
        self.b_cur = b_next;
    }

    /// The current convergent A_k/B_k. Also rescales both sequences by
    /// 1/B_k (their ratios and its derivatives are unchanged), so that
    /// nothing overflows between calls. `None` while B_k = 0.
    fn value(&mut self) -> Option<Dual> {
        let inv = 1.0 / self.b_cur.v;
        if !inv.is_finite() {
            return None;
        }
        self.a_prev = self.a_prev.scale(inv);
        self.b_prev = self.b_prev.scale(inv);
        self.a_cur = self.a_cur.scale(inv);
        self.b_cur = self.b_cur.scale(inv);
        let v = self.a_cur.v;
        Some(Dual {
            v,
            da: self.a_cur.da - v * self.b_cur.da,
            db: self.a_cur.db - v * self.b_cur.db,
        })
    }
}

/// The continued fraction for I_x(a, b) · a B(a, b) / (x^a (1−x)^b), as a
/// dual in (a, b). Converges fast for x < (a+1)/(a+b+2).
///
/// K = 1/(1 + d₁/(1 + d₂/(1 + …))) with d₂ₘ = m(b−m)x / ((a+2m−1)(a+2m)) and
/// d₂ₘ₊₁ = −(a+m)(a+b+m)x / ((a+2m)(a+2m+1)), evaluated by the forward
/// recurrence of numerators and denominators (A_k = A_{k−1} + d_k A_{k−2},
/// the same for B), renormalised at every step. Unlike Lentz's method this
/// needs no division of duals: each coefficient and its two partial
/// derivatives cost one scalar division.
fn continued_fraction(x: f64, a: f64, b: f64) -> Dual {
    let mut k = Convergents::new();
    let mut f = Dual::constant(1.0);
    // d₁ = −(a+b)x/(a+1).
    let inv = 1.0 / (a + 1.0);
    let d1 = -(a + b) * x * inv;
    let coef = Dual {
        v: d1,
        da: (-x - d1) * inv,
        db: -x * inv,
    };
    k.push(coef);
    for m in 1..MAX_TERMS {
        let m = m as f64;
        let m2 = 2.0 * m;
        // Even coefficient: numerator m(b−m)x (b only), denominator (a+2m−1)(a+2m) (a only).
        let den = (a + m2 - 1.0) * (a + m2);
        let inv = 1.0 / den;
        let v = m * (b - m) * x * inv;
        let coef = Dual {
            v,
            da: -v * (2.0 * a + 2.0 * m2 - 1.0) * inv,
            db: m * x * inv,
        };
        k.push(coef);
        // Odd coefficient: −(a+m)(a+b+m)x / ((a+2m)(a+2m+1)).
        let den = (a + m2) * (a + m2 + 1.0);
        let inv = 1.0 / den;
        let v = -(a + m) * (a + b + m) * x * inv;
        let coef = Dual {
            v,
            da: (-x * (2.0 * a + b + 2.0 * m) - v * (2.0 * a + 2.0 * m2 + 1.0)) * inv,
            db: -x * (a + m) * inv,
        };
        k.push(coef);
        // After renormalisation B = 1 (value), so K = A/B needs one scalar division.
        let Some(next) = k.value() else { continue };
        let converged = (next.v - f.v).abs() <= EPS * next.v.abs()
            && (next.da - f.da).abs() <= EPS_DERIVATIVE * next.da.abs().max(next.v.abs())
            && (next.db - f.db).abs() <= EPS_DERIVATIVE * next.db.abs().max(next.v.abs());
        f = next;
        if converged {
            break;
        }
    }
    f
}

/// ln Γ(x) and ψ(x) = d ln Γ/dx for x > 0, together (they share the work):
/// shifted up to z = x + k ≥ 10 by the recurrences Γ(x+1) = xΓ(x) and
/// ψ(x+1) = ψ(x) + 1/x, then Stirling's series (absolute error below 1e-15
/// at z ≥ 10 with the terms kept).
pub(crate) fn ln_gamma_digamma(x: f64) -> (f64, f64) {
    // P = x(x+1)…(z−1) and P' = dP/dx, so that Σ 1/(x+i) = P'/P.
    let (mut z, mut p, mut dp) = (x, 1.0, 0.0);
    while z < 10.0 {
        dp = dp * z + p;
        p *= z;
        z += 1.0;
    }
    let zi = 1.0 / z;
    let z2 = zi * zi;
    let ln_z = z.ln();
    const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;
    let ln_gamma = (z - 0.5) * ln_z - z
        + HALF_LN_2PI
        + zi * (1.0 / 12.0
            - z2 * (1.0 / 360.0
                - z2 * (1.0 / 1260.0
                    - z2 * (1.0 / 1680.0 - z2 * (1.0 / 1188.0 - z2 * (691.0 / 360_360.0))))));
    let digamma = ln_z
        - 0.5 * zi
        - z2 * (1.0 / 12.0
            - z2 * (1.0 / 120.0
                - z2 * (1.0 / 252.0
                    - z2 * (1.0 / 240.0 - z2 * (1.0 / 132.0 - z2 * (691.0 / 32_760.0))))));
    if p == 1.0 {
        (ln_gamma, digamma)
    } else {
        (ln_gamma - p.ln(), digamma - dp / p)
    }
}

/// The regularised incomplete beta function and its derivatives, for
/// 0 < x < 1 and a, b > 0. `None` outside that domain or when a value is not
/// finite.
pub fn incomplete_beta(x: f64, a: f64, b: f64) -> Option<IncompleteBeta> {
    if !(x > 0.0 && x < 1.0 && a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite()) {
        return None;
    }
    let (ln_x, ln_1mx) = (x.ln(), (-x).ln_1p());
    let (lg_a, psi_a) = ln_gamma_digamma(a);
    let (lg_b, psi_b) = ln_gamma_digamma(b);
    let (lg_ab, psi_ab) = ln_gamma_digamma(a + b);
    let ln_beta = lg_a + lg_b - lg_ab;
    // ln of x^a (1−x)^b / B(a, b) and its shape derivatives.
    let ln_power = a * ln_x + b * ln_1mx - ln_beta;
    let ln_power_d_a = ln_x - psi_a + psi_ab;
    let ln_power_d_b = ln_1mx - psi_b + psi_ab;
    let ln_front = ln_power - a.ln();
    let ln_front_d_a = ln_power_d_a - 1.0 / a;
    let density = (ln_power - ln_x - ln_1mx).exp();

    let direct = x < (a + 1.0) / (a + b + 2.0);
    // The side evaluated: I_x(a, b) directly, or J = I_{1−x}(b, a).
    let (cf, front, front_d_first, front_d_second) = if direct {
        let cf = continued_fraction(x, a, b);
        (cf, ln_front.exp(), ln_front_d_a, ln_power_d_b)
    } else {
        let cf = continued_fraction(1.0 - x, b, a);
        // ln of (1−x)^b x^a / (b B(b, a)): derivatives in (b, a).
        let ln_front_j = ln_power - b.ln();
        (cf, ln_front_j.exp(), ln_power_d_b - 1.0 / b, ln_power_d_a)
    };
    // side = front · cf, with derivatives in (first shape, second shape).
    let side = cf.v * front;
    let side_d_first = front * (cf.da + cf.v * front_d_first);
    let side_d_second = front * (cf.db + cf.v * front_d_second);
    let (value, complement, d_a, d_b) = if direct {
        (side, 1.0 - side, side_d_first, side_d_second)
    } else {
        (1.0 - side, side, -side_d_second, -side_d_first)
    };
    let result = IncompleteBeta {
        value: value.clamp(0.0, 1.0),
        complement: complement.clamp(0.0, 1.0),
        d_x: density,
        d_a,
        d_b,
        ln_front,
        ln_front_d_x: a / x - b / (1.0 - x),
        ln_front_d_a,
        ln_front_d_b: ln_power_d_b,
    };
    let finite = [result.d_x, result.d_a, result.d_b, result.ln_front]
        .iter()
        .all(|v| v.is_finite());
    finite.then_some(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::function::beta::beta_reg;

    fn close(got: f64, want: f64, tol: f64) -> bool {
        (got - want).abs() <= tol * want.abs().max(1e-12)
    }

    /// Five-point central difference with a step relative to the point
    /// (truncation error of order h⁴, so a larger, less noisy step).
    fn derivative(f: impl Fn(f64) -> f64, at: f64, scale: f64) -> f64 {
        let h = 1e-3 * scale;
        (8.0 * (f(at + h) - f(at - h)) - (f(at + 2.0 * h) - f(at - 2.0 * h))) / (12.0 * h)
    }

    /// Values against statrs, derivatives against central differences of it,
    /// over the ranges the threshold test visits and beyond.
    #[test]
    fn value_and_derivatives_match_finite_differences() {
        let xs = [1e-4, 0.01, 0.05, 0.2, 0.5, 0.8, 0.97];
        let shapes = [0.02, 0.2, 0.9, 1.0, 3.5, 12.0, 80.0];
        for &x in &xs {
            for &a in &shapes {
                for &b in &shapes {
                    let r = incomplete_beta(x, a, b).unwrap();
                    let want = beta_reg(a, b, x);
                    assert!(
                        close(r.value, want, 1e-11),
                        "I({x};{a},{b}) = {} vs {want}",
                        r.value
                    );
                    assert!(
                        close(r.complement, 1.0 - want, 1e-9) || (1.0 - want) < 1e-6,
                        "complement at ({x};{a},{b})"
                    );
                    let fd_a = derivative(|a| beta_reg(a, b, x), a, a);
                    let fd_b = derivative(|b| beta_reg(a, b, x), b, b);
                    let fd_x = derivative(|x| beta_reg(a, b, x), x, x.min(1.0 - x));
                    // Finite differences carry errors of their own (truncation and rounding).
                    let ok = |got: f64, fd: f64| (got - fd).abs() <= 1e-6 * fd.abs() + 1e-8;
                    assert!(
                        ok(r.d_a, fd_a),
                        "dI/da at ({x};{a},{b}): {} vs {fd_a}",
                        r.d_a
                    );
                    assert!(
                        ok(r.d_b, fd_b),
                        "dI/db at ({x};{a},{b}): {} vs {fd_b}",
                        r.d_b
                    );
                    assert!(
                        ok(r.d_x, fd_x),
                        "dI/dx at ({x};{a},{b}): {} vs {fd_x}",
                        r.d_x
                    );
                }
            }
        }
    }

    #[test]
    fn front_links_neighbouring_shapes() {
        for &(x, a, b) in &[(0.2, 0.25, 7.0), (0.6, 2.0, 3.0), (0.05, 0.1, 30.0)] {
            let r = incomplete_beta(x, a, b).unwrap();
            let next = beta_reg(a + 1.0, b, x);
            assert!(close(r.value - r.ln_front.exp(), next, 1e-10));
            let h = 1e-6;
            let f = |a: f64, b: f64, x: f64| incomplete_beta(x, a, b).unwrap().ln_front;
            let fd_a = (f(a + h, b, x) - f(a - h, b, x)) / (2.0 * h);
            let fd_b = (f(a, b + h, x) - f(a, b - h, x)) / (2.0 * h);
            let fd_x = (f(a, b, x + h) - f(a, b, x - h)) / (2.0 * h);
            assert!((r.ln_front_d_a - fd_a).abs() < 1e-6);
            assert!((r.ln_front_d_b - fd_b).abs() < 1e-6);
            assert!((r.ln_front_d_x - fd_x).abs() < 1e-5);
        }
    }

    #[test]
    fn ln_gamma_and_digamma_match_statrs() {
        use statrs::function::gamma::{digamma, ln_gamma};
        for &x in &[
            1e-6, 0.01, 0.3, 0.5, 1.0, 1.4616, 2.0, 7.5, 9.99, 10.0, 33.3, 1e3, 1e6,
        ] {
            let (lg, psi) = ln_gamma_digamma(x);
            assert!(
                (lg - ln_gamma(x)).abs() <= 1e-13 * ln_gamma(x).abs().max(1.0),
                "lnΓ({x})"
            );
            assert!(
                (psi - digamma(x)).abs() <= 1e-13 * digamma(x).abs().max(1.0),
                "ψ({x})"
            );
        }
    }

    #[test]
    fn outside_the_domain_is_none() {
        assert!(incomplete_beta(0.0, 1.0, 1.0).is_none());
        assert!(incomplete_beta(1.0, 1.0, 1.0).is_none());
        assert!(incomplete_beta(0.5, 0.0, 1.0).is_none());
        assert!(incomplete_beta(0.5, 1.0, f64::NAN).is_none());
    }
}
