from stackatlas.cli import main

main()
