from pgwarden.cli import main

raise SystemExit(main())
