//! Typical HAProxy, NGINX and Envoy configs translate into a config `sluice check` accepts,
//! with the expected parts. The seed chapter's own snippets live outside the repo: CI checks
//! them with scripts/import-seed.sh.

use super::*;

fn check(text: &str) -> sluice_config::Config {
    sluice_config::parse(text, "imported.toml").unwrap_or_else(|d| panic!("{d}\n--- config:\n{text}"))
}

const HAPROXY: &str = "global\n  nbthread 4\n  maxconn 200000\n\ndefaults\n  mode http\n  timeout client 60s\n  timeout server 30s\n  timeout connect 5s\n\n\
frontend web\n  bind :8080 accept-proxy\n  acl api path_beg /api\n  acl site hdr(host) -i www.example.com\n  http-request set-header X-Env prod\n  \
http-request return status 200 content-type text/plain string ok if { path /ping }\n  use_backend b_api if api\n  use_backend b_site if site\n  default_backend b_site\n\n\
backend b_api\n  balance leastconn\n  option httpchk GET /healthz\n  http-check expect status 200\n  server a1 10.0.0.1:80 check inter 2s rise 2 fall 3 weight 2\n  server a2 10.0.0.2:80 check backup send-proxy-v2\n\n\
backend b_site\n  balance uri\n  cookie SRV insert\n  server-template app 3 app.svc:8080 check\n";

#[test]
fn haproxy_frontends_acls_and_backends() {
    let d = translate(From::Haproxy, HAPROXY, "h.cfg").unwrap();
    let text = out::render(&d);
    let c = check(&text);
    assert_eq!(c.workers, 4);
    let l = &c.listeners[0];
    assert_eq!((l.bind.port(), l.proxy_protocol), (8080, true));
    assert_eq!(l.routes.len(), 3, "{text}");
    assert_eq!(l.routes[0].add_request_headers, vec![("x-env".to_string(), "prod".to_string())]);
    let api = &c.clusters["b_api"];
    assert_eq!(api.balance.name(), "least_conn");
    assert_eq!((api.endpoints[0].weight, api.endpoints[1].backup), (2, true));
    assert!(api.health.is_some() && api.send_proxy_protocol.is_some());
    assert_eq!(api.timeouts.response, std::time::Duration::from_secs(30));
    let site = &c.clusters["b_site"];
    assert!(site.discovery.is_some() && site.sticky.is_some(), "{text}");
    assert!(text.contains("# h.cfg:18"), "source lines in comments:\n{text}");
    let warnings = d.warnings.join("\n");
    assert!(warnings.contains("h.cfg:3: maxconn"), "{warnings}");
    assert!(warnings.contains("inline conditions"), "{warnings}");
}

const NGINX: &str = "http {\n  limit_req_zone $binary_remote_addr zone=one:10m rate=10r/s;\n  upstream app {\n    least_conn;\n    keepalive 64;\n    server 10.0.2.10:8080 weight=3 max_fails=3 fail_timeout=10s;\n    server 10.0.2.11:8080 backup;\n  }\n\
  server {\n    listen 8080;\n    server_name www.example.com;\n    location / { proxy_pass http://app; proxy_set_header X-Team blue; }\n    location ^~ /static/ { proxy_pass http://app; proxy_read_timeout 5s; }\n    location ~ \\.php$ { return 403 \"no\"; }\n    location = /healthz { return 200 \"ok\\n\"; }\n    location /api/ { proxy_pass http://app; limit_req zone=one burst=20; }\n  }\n}\n";

#[test]
fn nginx_upstreams_servers_and_locations_in_precedence_order() {
    let d = translate(From::Nginx, NGINX, "n.conf").unwrap();
    let text = out::render(&d);
    let c = check(&text);
    let app = &c.clusters["app"];
    assert_eq!((app.balance.name(), app.endpoints[0].weight, app.endpoints[1].backup), ("least_conn", 3, true));
    assert!(app.outlier.is_some());
    let r = &c.listeners[0].routes;
    let kinds: Vec<String> = r.iter().map(|r| format!("{:?}", r.matcher)).collect();
    assert!(kinds[0].contains("/healthz"), "exact first: {kinds:?}");
    assert!(kinds[1].contains("/static/"), "then ^~: {kinds:?}");
    assert!(kinds[2].contains("php"), "then regex: {kinds:?}");
    assert!(kinds[3].contains("/api/") && r[3].rate_limit.is_some(), "then prefixes, longest first: {kinds:?}");
    assert_eq!(r[4].add_request_headers, vec![("x-team".to_string(), "blue".to_string())]);
    assert!(r.iter().all(|r| format!("{:?}", r.matcher).contains("www.example.com")));
}

const ENVOY: &str = r#"static_resources:
  listeners:
  - name: web
    address: {socket_address: {address: 127.0.0.1, port_value: 8080}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {path: "/healthz"}
                direct_response: {status: 200, body: {inline_string: "ok"}}
              - match: {prefix: "/api", headers: [{name: x-canary, string_match: {exact: "1"}}]}
                route: {cluster: canary, timeout: 2s}
              - match: {prefix: "/"}
                route: {cluster: app}
  - name: db
    address: {socket_address: {address: 127.0.0.1, port_value: 5432}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: {cluster: pg}
  clusters:
  - name: app
    type: STRICT_DNS
    lb_policy: MAGLEV
    health_checks:
    - interval: 2s
      timeout: 1s
      healthy_threshold: 2
      unhealthy_threshold: 3
      http_health_check: {path: /healthz}
    load_assignment:
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: app.svc.test, port_value: 8080}}}
  - name: canary
    load_assignment:
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 10.0.0.9, port_value: 80}}}
          load_balancing_weight: 5
  - name: pg
    lb_policy: RANDOM
    load_assignment:
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 10.0.1.1, port_value: 5432}}}
"#;

#[test]
fn envoy_listeners_routes_and_clusters() {
    let d = translate(From::Envoy, ENVOY, "e.yaml").unwrap();
    let text = out::render(&d);
    let c = check(&text);
    let web = &c.listeners[0];
    assert_eq!(web.routes.len(), 3, "{text}");
    assert!(matches!(web.routes[0].target, sluice_config::RouteTarget::Respond { status: 200, .. }));
    assert_eq!(web.routes[1].timeout, Some(std::time::Duration::from_secs(2)));
    assert!(format!("{:?}", web.routes[1].matcher).contains("x-canary"), "{text}");
    assert_eq!(c.listeners[1].protocol, sluice_config::ListenerProtocol::Tcp);
    assert_eq!(c.listeners[1].cluster.as_deref(), Some("pg"));
    let app = &c.clusters["app"];
    assert_eq!(app.balance.name(), "maglev");
    assert!(app.discovery.is_some() && app.health.is_some(), "STRICT_DNS with a name: discovery\n{text}");
    assert_eq!(c.clusters["canary"].endpoints[0].weight, 5);
    assert!(text.contains("# e.yaml:"), "{text}");
}
