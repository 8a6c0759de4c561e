// Leadwire's Temporal server program: the Temporal server (go.temporal.io/server, the version the
// Temporal CLI v1.5.1 embeds) with PostgreSQL persistence and visibility, plus the server's own SQL
// schema tool, in one binary. scripts/temporal-cluster.ts builds it (cached outside the repo) and runs
// the frontend, history, matching and worker services as separate processes joined by membership.
//
//	temporal-server start --config-dir DIR [--service frontend --service history ...]
//	temporal-server sql [temporal-sql-tool flags] create-database|setup-schema|update-schema ...
//
// `start` reads DIR/development.yaml (a template filled from the LW_TS_* environment variables, the
// same way the official temporalio/server image renders its config) and starts the named services
// (all four when none is named). `sql` is exactly temporal-sql-tool (go.temporal.io/server/tools/sql)
// with the schema files embedded in the module (--schema-name postgresql/v12/temporal).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/headers"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	_ "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql" // the postgres12 plugin
	"go.temporal.io/server/temporal"
	sqltool "go.temporal.io/server/tools/sql"
)

type serviceList []string

func (s *serviceList) String() string { return strings.Join(*s, ",") }
func (s *serviceList) Set(v string) error {
	for _, name := range strings.Split(v, ",") {
		if name = strings.TrimSpace(name); name != "" {
			*s = append(*s, name)
		}
	}
	return nil
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	switch os.Args[1] {
	case "sql":
		if err := sqltool.RunTool(append([]string{"temporal-sql-tool"}, os.Args[2:]...)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "start":
		if err := start(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "version":
		fmt.Println(headers.ServerVersion)
	default:
		usage()
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: temporal-server start --config-dir DIR [--service NAME ...] | sql ... | version")
}

func start(args []string) error {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	configDir := fs.String("config-dir", "config", "directory holding development.yaml")
	var services serviceList
	fs.Var(&services, "service", "service to start (frontend, history, matching, worker); repeat or comma-separate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(services) == 0 {
		services = temporal.DefaultServices
	}

	cfg, err := config.LoadConfig("development", *configDir, "")
	if err != nil {
		return fmt.Errorf("loading the config from %s: %w", *configDir, err)
	}
	logger := log.NewZapLogger(log.BuildZapLogger(cfg.Log))
	logger.Info("Starting Leadwire's Temporal server program.",
		tag.NewStringTag("server-version", headers.ServerVersion),
		tag.NewStringTag("services", services.String()))

	var dc dynamicconfig.Client = dynamicconfig.NewNoopClient()
	if cfg.DynamicConfigClient != nil && cfg.DynamicConfigClient.Filepath != "" {
		dc, err = dynamicconfig.NewFileBasedClient(cfg.DynamicConfigClient, logger, temporal.InterruptCh())
		if err != nil {
			return fmt.Errorf("dynamic config: %w", err)
		}
	}
	authorizer, err := authorization.GetAuthorizerFromConfig(&cfg.Global.Authorization)
	if err != nil {
		return err
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&cfg.Global.Authorization, logger)
	if err != nil {
		return err
	}

	s, err := temporal.NewServer(
		temporal.ForServices(services),
		temporal.WithConfig(cfg),
		temporal.WithDynamicConfigClient(dc),
		temporal.WithLogger(logger),
		temporal.InterruptOn(temporal.InterruptCh()),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
	)
	if err != nil {
		return fmt.Errorf("creating the server: %w", err)
	}
	// Start blocks until SIGINT/SIGTERM, then stops the services.
	if err := s.Start(); err != nil {
		return fmt.Errorf("running the server: %w", err)
	}
	return nil
}
