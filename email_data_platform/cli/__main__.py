from email_data_platform.cli import main

raise SystemExit(main())
