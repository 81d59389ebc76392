from controllers.main import main

main()
