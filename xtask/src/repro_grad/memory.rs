//! `memory`: peak heap bytes of one gradient against the number of steps.

use super::*;

#[derive(Serialize)]
struct MemoryRow {
    method: &'static str,
    requested_steps: usize,
    accepted_steps: usize,
    /// Peak heap bytes above the level before the forward solve.
    peak_bytes: usize,
    /// `peak_bytes` in units of one state vector.
    peak_states: f64,
    fwd_nfe: usize,
    bwd_nfe: usize,
    bwd_nvjp: usize,
    seconds: f64,
}

#[derive(Serialize)]
struct MemoryReport {
    setup: Vec<String>,
    state_bytes: usize,
    rows: Vec<MemoryRow>,
}

pub(super) fn memory(quick: bool, out_dir: &Path) -> Result<String> {
    let (dim, hidden, t_end) = (1000, 8, 1.0);
    let steps: &[usize] =
        if quick { &[10, 100, 1000, 3000] } else { &[10, 30, 100, 300, 1000, 3000, 10_000] };
    let f = Mlp::seeded(dim, hidden, 11);
    let y0: State = Array1::from_shape_fn(dim, |i| (0.37 * i as f64).sin());
    let ts = [0.0, t_end];
    let loss = |ys: &[State]| {
        let y = &ys[ys.len() - 1];
        (0.5 * y.dot(y), vec![Array1::zeros(dim), y.clone()])
    };
    let state_bytes = dim * std::mem::size_of::<f64>();
    let mut rows = Vec::new();
    for (method, name) in [
        (GradientMethod::Adjoint(AdjointOptions::default().method(&RK4)), "adjoint"),
        (GradientMethod::Aca, "aca"),
        (GradientMethod::Mali(MaliOptions::default()), "mali"),
    ] {
        for &n in steps {
            eprintln!("[memory] {name}: {n} steps");
            let opts =
                SolveOptions::default().method(&RK4).fixed_step(t_end / n as f64).max_steps(10 * n + 10);
            let start = Instant::now();
            let (g, peak) = alloc_count::measure(|| gradient(&f, &y0, &ts, &opts, &method, &loss));
            let seconds = start.elapsed().as_secs_f64();
            let g = g?;
            rows.push(MemoryRow {
                method: method.name(),
                requested_steps: n,
                accepted_steps: g.fwd.n_accepted,
                peak_bytes: peak,
                peak_states: peak as f64 / state_bytes as f64,
                fwd_nfe: g.fwd.nfe,
                bwd_nfe: g.bwd.nfe,
                bwd_nvjp: g.bwd.nvjp,
                seconds,
            });
        }
    }
    let report = MemoryReport {
        setup: vec![
            format!(
                "system: Mlp::seeded({dim}, {hidden}, 11) (y' = W2 tanh(W1 y + b1) + b2, {} parameters), \
                 y0_i = sin(0.37 i), t in [0, {t_end}], loss = |y(1)|^2 / 2",
                2 * dim * hidden + hidden + dim
            ),
            "steps: fixed h = 1 / N; ACA and the adjoint on rk4 (the adjoint's backward also rk4 at h), \
             MALI on its fixed-step leapfrog"
                .into(),
            "peak: the counting global allocator's peak heap bytes during forward + backward, above the \
             level before the forward (everything allocated by the gradient, including its outputs)"
                .into(),
        ],
        state_bytes,
        rows,
    };
    write_json(out_dir, "memory", &report)?;
    plot_memory(out_dir, &report)?;
    Ok(memory_markdown(&report))
}

fn memory_markdown(r: &MemoryReport) -> String {
    let mut md = String::from("## memory\n\n");
    for s in &r.setup {
        md.push_str(&format!("- {s}\n"));
    }
    md.push_str(&format!("- one state: {} bytes\n\n", r.state_bytes));
    let headers = ["method", "steps", "peak heap", "peak / state", "fwd NFE", "bwd NFE + VJPs", "time (s)"];
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|x| {
            vec![
                x.method.to_string(),
                x.accepted_steps.to_string(),
                format!("{:.3} MiB", x.peak_bytes as f64 / (1024.0 * 1024.0)),
                format!("{:.1}", x.peak_states),
                x.fwd_nfe.to_string(),
                format!("{} + {}", x.bwd_nfe, x.bwd_nvjp),
                format!("{:.3}", x.seconds),
            ]
        })
        .collect();
    md.push_str(&md_table(&headers, &rows));
    md
}

fn plot_memory(out_dir: &Path, r: &MemoryReport) -> Result<()> {
    let mut chart = Chart {
        title: "peak heap of one gradient".into(),
        x_label: "steps".into(),
        y_label: "peak bytes".into(),
        log_x: true,
        log_y: true,
        legend: Legend::UpperLeft,
        ..Chart::default()
    };
    for (i, name) in ["adjoint", "aca", "mali"].into_iter().enumerate() {
        let pts = r
            .rows
            .iter()
            .filter(|x| x.method == name)
            .map(|x| (x.accepted_steps as f64, x.peak_bytes as f64))
            .collect();
        chart.series.push(Series::line(name, pts, i).markers());
    }
    plot::draw(&out_dir.join("memory.png"), &[chart], (720, 540))
}
