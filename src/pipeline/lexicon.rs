//! The skills and concepts lexicon shipped in the binary. Postings and CVs name the same
//! skill in different words (Go and Golang, PostgreSQL and Postgres, "stability and
//! scalability" and "cut p99 latency, introduced SLOs"), so the offline stages compare
//! *concepts*, not words: JD extraction lists the skills a posting names, and the evidence
//! matcher (`pipeline::evidence`) pairs a requirement with the CV line that names the same
//! concepts.
//!
//! A form is a sequence of lower-case words; a word ending in `*` matches any word that
//! starts with it (`mentor*` matches mentored, mentoring, mentorship); a form starting with
//! `=` is matched case-sensitively (`=Go`, so the verb "go" is no skill).

/// What kind of thing a concept is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConceptKind {
    /// A named language, tool, platform or technique.
    Technical,
    /// A way of working with people.
    Soft,
    /// An outcome an employer wants (reliability, performance, growth), which achievements
    /// prove in their own words.
    Outcome,
}

/// One concept and the forms it is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concept {
    /// The display name.
    pub name: &'static str,
    pub kind: ConceptKind,
    pub forms: &'static [&'static str],
}

const fn tech(name: &'static str, forms: &'static [&'static str]) -> Concept {
    Concept {
        name,
        kind: ConceptKind::Technical,
        forms,
    }
}
const fn soft(name: &'static str, forms: &'static [&'static str]) -> Concept {
    Concept {
        name,
        kind: ConceptKind::Soft,
        forms,
    }
}
const fn outcome(name: &'static str, forms: &'static [&'static str]) -> Concept {
    Concept {
        name,
        kind: ConceptKind::Outcome,
        forms,
    }
}

/// Every concept job-runner knows, by profession loosely.
pub const CONCEPTS: &[Concept] = &[
    // Languages.
    tech("Go", &["=Go", "golang"]),
    tech("Rust", &["rust"]),
    tech("Python", &["python", "django", "flask", "fastapi"]),
    tech("Java", &["java", "spring boot", "jvm"]),
    tech("Kotlin", &["kotlin"]),
    tech("Scala", &["scala"]),
    tech("JavaScript", &["javascript", "ecmascript"]),
    tech("TypeScript", &["typescript"]),
    tech("Node.js", &["node.js", "nodejs", "=Node"]),
    tech("Ruby", &["ruby", "rails"]),
    tech("PHP", &["php", "laravel"]),
    tech("C++", &["c++", "cpp"]),
    tech("C#", &["c#", ".net", "dotnet", "asp.net"]),
    tech("Swift", &["=Swift", "ios"]),
    tech("Elixir", &["elixir", "erlang"]),
    tech("SQL", &["sql", "t-sql", "pl/sql"]),
    // Data stores and data work.
    tech("PostgreSQL", &["postgresql", "postgres", "psql"]),
    tech("MySQL", &["mysql", "mariadb"]),
    tech("MongoDB", &["mongodb", "mongo"]),
    tech("Redis", &["redis"]),
    tech("Cassandra", &["cassandra", "scylladb"]),
    tech("DynamoDB", &["dynamodb"]),
    tech("Elasticsearch", &["elasticsearch", "opensearch"]),
    tech("Kafka", &["kafka", "kinesis", "pub sub", "event streaming"]),
    tech("RabbitMQ", &["rabbitmq", "message queue*", "sqs"]),
    tech("Spark", &["spark", "pyspark", "databricks"]),
    tech("Airflow", &["airflow", "dagster", "prefect"]),
    tech("dbt", &["=dbt"]),
    tech("Snowflake", &["snowflake"]),
    tech("BigQuery", &["bigquery"]),
    tech("Redshift", &["redshift"]),
    tech("Flink", &["flink"]),
    tech(
        "data pipelines",
        &[
            "etl",
            "elt",
            "data pipeline*",
            "batch pipeline*",
            "streaming pipeline*",
            "event pipeline*",
            "event stream*",
            "ingestion",
        ],
    ),
    tech(
        "data warehousing",
        &["data warehous*", "lakehouse", "data lake*", "data model*"],
    ),
    // Platforms and operations.
    tech("AWS", &["aws", "amazon web services", "ec2", "lambda", "s3"]),
    tech("GCP", &["gcp", "google cloud"]),
    tech("Azure", &["azure"]),
    tech("Kubernetes", &["kubernetes", "k8s", "eks", "gke", "aks", "helm"]),
    tech("Docker", &["docker", "container*"]),
    tech(
        "infrastructure as code",
        &[
            "terraform",
            "infrastructure as code",
            "iac",
            "pulumi",
            "cloudformation",
            "ansible",
        ],
    ),
    tech("Linux", &["linux", "unix", "bash"]),
    tech(
        "CI/CD",
        &[
            "ci cd",
            "continuous integration",
            "continuous delivery",
            "continuous deployment",
            "github actions",
            "gitlab ci",
            "jenkins",
            "deployment pipeline*",
        ],
    ),
    tech(
        "observability",
        &[
            "observability",
            "monitoring",
            "opentelemetry",
            "datadog",
            "prometheus",
            "grafana",
            "tracing",
        ],
    ),
    tech(
        "distributed systems",
        &[
            "distributed system*",
            "microservice*",
            "service oriented",
            "event driven",
            "high throughput",
        ],
    ),
    tech(
        "APIs",
        &["api", "apis", "rest", "restful", "graphql", "grpc", "webhook*"],
    ),
    tech("backend engineering", &["backend", "back end", "server side"]),
    tech("frontend engineering", &["frontend", "front end", "web ui"]),
    tech(
        "DevOps and SRE",
        &[
            "devops",
            "sre",
            "site reliability",
            "platform engineer*",
            "infrastructure engineer*",
        ],
    ),
    tech(
        "computer science degree",
        &[
            "computer science",
            "software engineering degree",
            "informatics",
            "computer engineering",
        ],
    ),
    tech(
        "system design",
        &["system design", "architecture", "architect*", "technical design"],
    ),
    tech(
        "testing",
        &[
            "tdd",
            "unit test*",
            "integration test*",
            "test automation",
            "automated test*",
            "testing",
        ],
    ),
    tech(
        "security",
        &[
            "security",
            "owasp",
            "iam",
            "threat model*",
            "penetration test*",
            "soc 2",
            "iso 27001",
        ],
    ),
    // Machine learning and data science.
    tech(
        "machine learning",
        &["machine learning", "=ML", "deep learning", "ml model*"],
    ),
    tech("PyTorch", &["pytorch", "torch"]),
    tech("TensorFlow", &["tensorflow", "keras"]),
    tech(
        "LLMs",
        &["llm", "llms", "large language model*", "genai", "generative ai", "rag"],
    ),
    tech(
        "MLOps",
        &[
            "mlops",
            "model serving",
            "model deployment",
            "feature store*",
            "mlflow",
            "kubeflow",
        ],
    ),
    tech("NLP", &["nlp", "natural language processing"]),
    tech(
        "statistics",
        &["statistic*", "regression", "hypothesis test*", "causal inference"],
    ),
    tech("experimentation", &["a b test*", "experiment*", "split test*"]),
    tech(
        "analytics",
        &[
            "analytics",
            "google analytics",
            "ga4",
            "mixpanel",
            "amplitude",
            "dashboard*",
        ],
    ),
    tech(
        "BI tools",
        &[
            "looker",
            "looker studio",
            "tableau",
            "power bi",
            "bi tool*",
            "metabase",
            "qlik",
        ],
    ),
    // Front end and design.
    tech("React", &["react", "react.js", "reactjs", "next.js", "react native"]),
    tech("Vue", &["vue", "vue.js", "nuxt"]),
    tech("Angular", &["angular"]),
    tech("HTML/CSS", &["html", "css", "tailwind", "sass"]),
    tech("Figma", &["figma", "sketch", "adobe xd"]),
    tech(
        "UX design",
        &[
            "ux",
            "user experience",
            "interaction design",
            "wirefram*",
            "prototyp*",
            "usability",
        ],
    ),
    tech("design systems", &["design system*", "component librar*"]),
    // Product.
    tech(
        "product roadmaps",
        &["roadmap*", "product strategy", "product vision", "prioriti*"],
    ),
    tech(
        "product discovery",
        &[
            "product discovery",
            "user research",
            "customer interview*",
            "customer discovery",
            "jobs to be done",
        ],
    ),
    tech("go-to-market", &["go to market", "gtm", "product launch*"]),
    tech(
        "requirements writing",
        &["prd", "prds", "user stor*", "product requirement*", "specification*"],
    ),
    tech("agile delivery", &["agile", "scrum", "kanban", "sprint*"]),
    // Management.
    tech(
        "people management",
        &[
            "people management",
            "line manag*",
            "direct report*",
            "people manager",
            "manage a team",
            "managed a team",
            "managing a team",
            "managed engineers",
            "managing engineers",
            "team of engineers",
            "performance review*",
            "1 1s",
            "one on one*",
        ],
    ),
    tech(
        "hiring",
        &["hiring", "hired", "recruit*", "interview loop*", "headcount"],
    ),
    tech("budgeting", &["budget*", "forecast*", "p l", "fp a", "cost control"]),
    // Health care.
    tech(
        "patient care",
        &[
            "patient care",
            "patient safety",
            "bedside",
            "ward",
            "wards",
            "acute care",
            "residents",
        ],
    ),
    tech("nursing", &["nurs*", "=RN", "registered nurse", "nmc", "midwi*"]),
    tech("medication administration", &["medication*", "drug round*", "prescri*"]),
    tech(
        "clinical assessment",
        &["clinical", "triage", "care plan*", "vital sign*", "wound care"],
    ),
    tech(
        "electronic health records",
        &["ehr", "emr", "epic", "electronic health record*", "cerner"],
    ),
    tech(
        "life support",
        &["bls", "acls", "cpr", "basic life support", "advanced life support"],
    ),
    // Marketing and sales.
    tech("SEO", &["seo", "search engine optimi*"]),
    tech(
        "paid media",
        &[
            "sem",
            "ppc",
            "paid search",
            "paid social",
            "google ads",
            "paid media",
            "performance marketing",
        ],
    ),
    tech(
        "content marketing",
        &["content marketing", "content strateg*", "copywrit*", "editorial"],
    ),
    tech("brand", &["brand*"]),
    tech("campaigns", &["campaign*"]),
    tech("social media", &["social media", "instagram", "tiktok", "linkedin ads"]),
    tech(
        "marketing automation",
        &[
            "hubspot",
            "marketo",
            "marketing automation",
            "email marketing",
            "lifecycle marketing",
            "mailchimp",
        ],
    ),
    tech("CRM", &["crm", "salesforce"]),
    tech(
        "sales quota",
        &[
            "quota*",
            "closed won",
            "closing deals",
            "close deals",
            "arr",
            "new business",
        ],
    ),
    tech(
        "prospecting",
        &["prospect*", "outbound", "cold call*", "lead generation"],
    ),
    tech(
        "account management",
        &["account manag*", "key account*", "renewal*", "upsell*"],
    ),
    // Finance.
    tech(
        "accounting",
        &[
            "accounting",
            "gaap",
            "ifrs",
            "reconciliation*",
            "ledger*",
            "month end",
            "accounts payable",
            "accounts receivable",
        ],
    ),
    tech("financial modelling", &["financial model*", "fp&a", "valuation*"]),
    tech("Excel", &["excel", "spreadsheet*"]),
    // Teaching, logistics, hospitality, support, people.
    tech(
        "teaching",
        &[
            "teach*",
            "lesson plan*",
            "curricul*",
            "classroom*",
            "pupil*",
            "safeguarding",
        ],
    ),
    tech(
        "driving",
        &[
            "driving licen*",
            "driver",
            "cdl",
            "class 1",
            "class 2",
            "hgv",
            "lgv",
            "forklift",
        ],
    ),
    tech(
        "warehouse operations",
        &[
            "warehouse",
            "inventory",
            "picking",
            "stock control",
            "dispatch",
            "supply chain",
        ],
    ),
    tech(
        "food preparation",
        &["food safety", "food hygiene", "kitchen", "culinary", "menu*", "haccp"],
    ),
    tech(
        "customer support",
        &[
            "customer support",
            "customer service",
            "zendesk",
            "ticket*",
            "help desk",
            "helpdesk",
        ],
    ),
    tech(
        "talent acquisition",
        &[
            "talent acquisition",
            "sourcing",
            "ats",
            "onboarding",
            "hris",
            "payroll",
            "employee relations",
        ],
    ),
    tech(
        "legal",
        &["contract*", "litigation", "compliance", "regulatory", "gdpr"],
    ),
    // Outcomes the employer wants and achievements prove.
    outcome(
        "reliability",
        &[
            "reliab*",
            "stability",
            "stable",
            "uptime",
            "availability",
            "slo",
            "slos",
            "service level objective*",
            "service level indicator*",
            "sla",
            "slas",
            "incident*",
            "on call",
            "postmortem*",
            "post mortem*",
            "resilien*",
            "outage*",
            "error budget*",
            "fault toleran*",
        ],
    ),
    outcome(
        "performance",
        &[
            "performance",
            "latency",
            "p99",
            "p95",
            "p50",
            "throughput",
            "optimi*",
            "faster",
            "speed up",
            "load time*",
        ],
    ),
    outcome(
        "scalability",
        &[
            "scalab*",
            "scale",
            "scaling",
            "scaled",
            "high traffic",
            "million* of request*",
            "requests per second",
            "rps",
            "growth in traffic",
        ],
    ),
    outcome("cost reduction", &["cost*", "saving*", "spend", "efficien*"]),
    outcome(
        "revenue growth",
        &[
            "revenue",
            "conversion*",
            "retention",
            "churn",
            "sales growth",
            "pipeline growth",
        ],
    ),
    outcome(
        "quality",
        &["quality", "defect*", "bug*", "regression*", "accuracy", "error rate*"],
    ),
    outcome(
        "migration",
        &["migrat*", "moderni*", "legacy", "re platform*", "rewrite", "rewrote"],
    ),
    outcome("automation", &["automat*", "self serve", "self service", "tooling"]),
    outcome(
        "delivery",
        &["deliver*", "shipped", "ship", "launched", "release*", "time to market"],
    ),
    // Ways of working.
    soft(
        "mentoring",
        &[
            "mentor*",
            "coach*",
            "promoted",
            "grew engineers",
            "develop engineers",
            "developing engineers",
            "career growth",
        ],
    ),
    soft(
        "leadership",
        &[
            "leadership",
            "led",
            "lead",
            "leading",
            "technical lead*",
            "tech lead*",
            "ownership of",
        ],
    ),
    soft(
        "communication",
        &[
            "communicat*",
            "written and verbal",
            "verbal and written",
            "present*",
            "storytell*",
            "explain*",
            "documentation",
        ],
    ),
    soft(
        "collaboration",
        &[
            "collaborat*",
            "cross functional",
            "partner with",
            "partnered with",
            "stakeholder*",
            "teamwork",
            "work closely",
        ],
    ),
    soft(
        "ownership",
        &[
            "ownership",
            "autonom*",
            "self starter",
            "self directed",
            "end to end",
            "take initiative",
        ],
    ),
    soft(
        "problem solving",
        &[
            "problem solving",
            "problem solver",
            "analytical",
            "troubleshoot*",
            "debug*",
            "root cause*",
        ],
    ),
    soft(
        "writing",
        &[
            "writing",
            "wrote",
            "write",
            "written content",
            "editing",
            "edited",
            "proofread*",
            "copy",
        ],
    ),
    soft(
        "attention to detail",
        &["attention to detail", "detail oriented", "meticulous", "accuracy and"],
    ),
    soft(
        "adaptability",
        &["adaptab*", "fast paced", "ambiguity", "changing priorities", "flexib*"],
    ),
    soft(
        "empathy",
        &[
            "empath*",
            "compassion*",
            "patient centred",
            "patient centered",
            "customer obsess*",
            "customer focus*",
        ],
    ),
];

/// A concept found in a text, with the words it was written in there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub concept: &'static Concept,
    /// The text's own words for it (e.g. "Golang").
    pub surface: String,
    /// Byte offset of the first word.
    pub at: usize,
}

/// A word of a text with its byte span.
#[derive(Debug, Clone)]
struct Word<'a> {
    raw: &'a str,
    lower: String,
    at: usize,
    end: usize,
}

fn words(text: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let is_word = |c: char| c.is_alphanumeric() || matches!(c, '+' | '#' | '.' | '&');
    for (i, c) in text.char_indices() {
        if is_word(c) {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            push_word(&mut out, text, s, i);
        }
    }
    if let Some(s) = start {
        push_word(&mut out, text, s, text.len());
    }
    out
}

fn push_word<'a>(out: &mut Vec<Word<'a>>, text: &'a str, s: usize, e: usize) {
    // A sentence's full stop is not part of the word ("Go." is Go); inner and leading dots
    // are ("node.js", ".net").
    let raw = text[s..e].trim_end_matches('.');
    if raw.is_empty() || raw.chars().all(|c| !c.is_alphanumeric()) {
        return;
    }
    out.push(Word {
        raw,
        lower: raw.to_lowercase(),
        at: s,
        end: s + raw.len(),
    });
}

fn word_matches(pattern: &str, word: &Word<'_>) -> bool {
    if let Some(exact) = pattern.strip_prefix('=') {
        return word.raw == exact;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => word.lower.starts_with(prefix),
        None => word.lower == pattern,
    }
}

/// Where `form` occurs in `words`, as (first, last) word indexes.
fn form_at(form: &str, words: &[Word<'_>], from: usize) -> Option<(usize, usize)> {
    let (case_sensitive, body) = match form.strip_prefix('=') {
        Some(b) => (true, b),
        None => (false, form),
    };
    let parts: Vec<String> = body
        .split(|c: char| c.is_whitespace() || c == '/' || c == '-')
        .filter(|p| !p.is_empty())
        .map(|p| if case_sensitive { format!("={p}") } else { p.to_owned() })
        .collect();
    if parts.is_empty() {
        return None;
    }
    (from..words.len()).find_map(|i| {
        let ok = parts
            .iter()
            .enumerate()
            .all(|(k, p)| words.get(i + k).is_some_and(|w| word_matches(p, w)));
        ok.then(|| (i, i + parts.len() - 1))
    })
}

/// Splits on `/` and `-` inside words too, so "CI/CD" and "on-call" match "ci cd" and
/// "on call".
fn split_words(text: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    for w in words(text) {
        let mut offset = 0;
        for piece in w.raw.split(['/', '-']) {
            if piece.chars().any(char::is_alphanumeric) {
                let at = w.at + offset;
                out.push(Word {
                    raw: piece,
                    lower: piece.to_lowercase(),
                    at,
                    end: at + piece.len(),
                });
            }
            offset += piece.len() + 1;
        }
    }
    out
}

/// Every concept of `kinds` that `text` names, in order of first appearance, each with
/// the text's own words for it.
pub fn find(text: &str, kinds: &[ConceptKind]) -> Vec<Hit> {
    let ws = split_words(text);
    // Every occurrence of every form, as (concept, first word, last word).
    let mut spans: Vec<(&'static Concept, usize, usize)> = Vec::new();
    for c in CONCEPTS {
        for f in c.forms {
            let mut from = 0;
            while let Some((i, j)) = form_at(f, &ws, from) {
                spans.push((c, i, j));
                from = i + 1;
            }
        }
    }
    // A span inside a longer one of another concept is part of that name ("automation" in
    // "marketing automation", "analytics" in "Google Analytics").
    let inside = |(c, i, j): &(&'static Concept, usize, usize)| {
        spans
            .iter()
            .any(|(d, a, b)| d.name != c.name && a <= i && j <= b && (b - a) > (j - i))
    };
    let kept: Vec<(&'static Concept, usize, usize)> = spans.iter().filter(|s| !inside(s)).copied().collect();
    let mut hits: Vec<Hit> = Vec::new();
    for (c, i, j) in kept {
        if !kinds.contains(&c.kind) {
            continue;
        }
        match hits.iter_mut().find(|h| h.concept.name == c.name) {
            Some(h) if h.at <= ws[i].at => {}
            Some(h) => {
                h.at = ws[i].at;
                h.surface = text[ws[i].at..ws[j].end].to_owned();
            }
            None => hits.push(Hit {
                concept: c,
                surface: text[ws[i].at..ws[j].end].to_owned(),
                at: ws[i].at,
            }),
        }
    }
    hits.sort_by_key(|h| h.at);
    hits
}

/// The names of every concept (of any kind) a text names.
pub fn concepts(text: &str) -> std::collections::BTreeSet<&'static str> {
    find(text, &[ConceptKind::Technical, ConceptKind::Soft, ConceptKind::Outcome])
        .into_iter()
        .map(|h| h.concept.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<&'static str> {
        find(text, &[ConceptKind::Technical, ConceptKind::Soft, ConceptKind::Outcome])
            .into_iter()
            .map(|h| h.concept.name)
            .collect()
    }

    #[test]
    fn synonyms_and_families_name_one_concept() {
        assert!(names("5 years of Golang and Postgres").starts_with(&["Go", "PostgreSQL"]));
        assert!(names("Built 14 Go and Rust services").contains(&"Go"));
        assert!(!names("ready to go the extra mile").contains(&"Go"));
        assert!(names("Cut p99 latency from 1.8 s to 240 ms and introduced SLOs").contains(&"performance"));
        assert!(names("introduced SLOs").contains(&"reliability"));
        assert!(
            names("improvements around stability, performance, and scalability").starts_with(&[
                "reliability",
                "performance",
                "scalability"
            ])
        );
        assert!(names("Mentored four engineers, two promoted").contains(&"mentoring"));
        assert!(names("Experience with CI/CD and on-call rotations").contains(&"CI/CD"));
        assert!(names("on-call rotations").contains(&"reliability"));
        assert!(names("Node.js and C++ and .NET").starts_with(&["Node.js", "C++", "C#"]));
    }

    #[test]
    fn a_word_inside_a_longer_name_belongs_to_that_name() {
        let n = names("Experience with HubSpot or a similar marketing automation tool");
        assert!(
            n.contains(&"marketing automation") && !n.contains(&"automation"),
            "{n:?}"
        );
        let n = names("Improve stability of the self-service checkout");
        assert!(n.contains(&"reliability") && n.contains(&"automation"), "{n:?}");
    }

    #[test]
    fn surfaces_are_the_texts_own_words() {
        let hits = find("We use Golang, Kubernetes (k8s) and CI/CD.", &[ConceptKind::Technical]);
        let surfaces: Vec<&str> = hits.iter().map(|h| h.surface.as_str()).collect();
        assert_eq!(surfaces, ["Golang", "Kubernetes", "CI/CD"]);
    }
}
